// Package web holds what erasure gives web frontends: the TypeScript client
// package in client/ (generated Connect-Web code plus resumable uploads,
// jobs that re-attach and typed errors). Its Go tests run that code against
// a real erasured.
package web
