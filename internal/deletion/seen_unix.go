//go:build unix

package deletion

import "syscall"

// mapMemory maps size bytes of zeroed memory, private to the process.
func mapMemory(size int) ([]byte, error) {
	return syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

func unmapMemory(b []byte) {
	_ = syscall.Munmap(b)
}
