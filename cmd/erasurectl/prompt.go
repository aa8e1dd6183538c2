package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
)

// interrupted is ask's answer when Ctrl-C was pressed again at the prompt
// or the input ended.
const interrupted = "\x00interrupted"

// readLines reads standard input line by line, once, for every prompt: a
// line typed while nothing asks waits for the next question.
func (c *cli) readLines() <-chan string {
	c.linesOnce.Do(func() {
		c.lines = make(chan string)
		go func() {
			defer close(c.lines)
			sc := bufio.NewScanner(c.tio.in)
			for sc.Scan() {
				c.lines <- strings.TrimSpace(sc.Text())
			}
		}()
	})
	return c.lines
}

// confirm asks a yes/no question on the terminal; no is the default.
// Without a terminal it asks nothing and refuses, naming --yes.
func (c *cli) confirm(ctx context.Context, question string) (bool, error) {
	if !c.tio.inTerminal {
		return false, &exitStatus{code: exitDeclined, msg: "erasurectl: not confirmed: standard input is not a terminal to ask on. After reading the preview, run the command again with --yes."}
	}
	fmt.Fprintf(c.tio.err, "%s [y/N] ", question)
	select {
	case <-ctx.Done():
		fmt.Fprintln(c.tio.err)
		return false, nil
	case line, ok := <-c.readLines():
		if !ok {
			fmt.Fprintln(c.tio.err)
			return false, nil
		}
		switch strings.ToLower(line) {
		case "y", "yes":
			return true, nil
		}
		return false, nil
	}
}

// mustConfirm asks unless yes is set, and returns the exit status of
// "nothing was started" unless the answer is yes.
func (c *cli) mustConfirm(ctx context.Context, yes bool, question string) error {
	if yes {
		return nil
	}
	ok, err := c.confirm(ctx, question)
	if err != nil {
		return err
	}
	if !ok {
		return &exitStatus{code: exitDeclined, msg: "Nothing was changed."}
	}
	return nil
}

// deleteQuestion asks to delete n profiles.
func deleteQuestion(n int64) string {
	return fmt.Sprintf("Delete %s with all their data in every section? This cannot be undone.", plural(n, "profile", "profiles"))
}

// ask asks a question on the terminal and returns the answer in lower
// case, or interrupted when Ctrl-C comes again or the input ends.
func (c *cli) ask(ctx context.Context, interrupts <-chan os.Signal, question string) string {
	fmt.Fprint(c.tio.err, question)
	select {
	case <-ctx.Done():
	case <-interrupts:
	case line, ok := <-c.readLines():
		if ok {
			return strings.ToLower(line)
		}
	}
	fmt.Fprintln(c.tio.err)
	return interrupted
}
