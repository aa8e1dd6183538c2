package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/buildinfo"
)

func (c *cli) jobsCommand() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List the account's jobs, newest first (the import history)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			jobs, err := pages(limit, func(size int32, token string) ([]*erasurev1.Job, string, error) {
				resp, err := c.svc.ListJobs(cmd.Context(), &erasurev1.ListJobsRequest{AccountId: c.account, PageSize: size, PageToken: token})
				return resp.GetJobs(), resp.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			return printList(c, "jobs", jobs, "JOB\tCREATED\tACTION\tKIND\tSTATE\tROWS\tDONE\tSOURCE", func(j *erasurev1.Job) string {
				done := j.GetCounts().GetDeleted()
				if j.GetAction() == erasurev1.JobAction_JOB_ACTION_UNSUBSCRIBE {
					done = j.GetCounts().GetUnsubscribed()
				}
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s", j.GetJobId(), j.GetCreateTime().AsTime().Local().Format(time.DateTime),
					enumWord(j.GetAction().String(), "JOB_ACTION_"), enumWord(j.GetKind().String(), "JOB_KIND_"), stateWord(j),
					rowsDone(j.GetCounts()), done, source(j))
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many jobs")
	return cmd
}

// pages collects the first limit items of a paged list; page returns the
// items of one page of at most size and the next page's token.
func pages[T any](limit int, page func(size int32, token string) ([]T, string, error)) ([]T, error) {
	if limit < 1 {
		return nil, usagef("--limit is 1 or more")
	}
	var items []T
	token := ""
	for len(items) < limit {
		got, next, err := page(int32(min(limit-len(items), 500)), token)
		if err != nil {
			return nil, err
		}
		items = append(items, got...)
		if token = next; token == "" {
			break
		}
	}
	return items, nil
}

// messages is a list of messages as printJSON takes it.
// printList prints a listing: with -o json one document {key: [items]},
// else a table of the tab-separated header and a line per item.
func printList[T proto.Message](c *cli, key string, items []T, header string, line func(T) string) error {
	if c.output == "json" {
		return c.printJSON(map[string]any{key: messages(items)})
	}
	tw := tabwriter.NewWriter(c.tio.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		fmt.Fprintln(tw, line(it))
	}
	return tw.Flush()
}

func messages[T proto.Message](l []T) []proto.Message {
	out := make([]proto.Message, len(l))
	for i, m := range l {
		out[i] = m
	}
	return out
}

// source is what a job read: its file, sheet and column, or its kind.
func source(j *erasurev1.Job) string {
	switch j.GetKind() {
	case erasurev1.JobKind_JOB_KIND_FILE:
		return fmt.Sprintf("%s, column %s", j.GetFilename(), j.GetColumn())
	case erasurev1.JobKind_JOB_KIND_SEGMENT:
		return "segment snapshot " + j.GetSnapshotId()
	case erasurev1.JobKind_JOB_KIND_PROFILE:
		return "one profile"
	}
	return "a list"
}

func enumWord(s, prefix string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s, prefix)), "_", " ")
}

func (c *cli) jobCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "job JOB_ID",
		Short: "Show one job: its state, counts and sections",
		Args:  exactArgs(1, "the job id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := c.svc.GetJob(cmd.Context(), &erasurev1.GetJobRequest{AccountId: c.account, JobId: args[0]})
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(resp.GetJob())
			}
			c.printJob(c.tio.out, resp.GetJob())
			return nil
		},
	}
}

// printJob shows a job in full.
func (c *cli) printJob(w io.Writer, j *erasurev1.Job) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "job\t%s\n", j.GetJobId())
	fmt.Fprintf(tw, "action\t%s\n", enumWord(j.GetAction().String(), "JOB_ACTION_"))
	fmt.Fprintf(tw, "source\t%s\n", source(j))
	if t := j.GetSpec().GetIdentifierType(); t != erasurev1.IdentifierType_IDENTIFIER_TYPE_UNSPECIFIED {
		fmt.Fprintf(tw, "matched by\t%s\n", typeWords(t))
	}
	if u := j.GetUnsubscribe(); u != nil {
		fmt.Fprintf(tw, "consents\tchannel %s, topics %s, sections %s\n", u.GetChannel(), listOr(u.GetTopics(), "all"), listOr(u.GetSections(), "all"))
	}
	fmt.Fprintf(tw, "state\t%s\n", stateWord(j))
	if j.GetCancelRequested() && !ended(j) {
		fmt.Fprintf(tw, "\tcancel requested\n")
	}
	if j.GetError() != "" {
		fmt.Fprintf(tw, "error\t%s\n", j.GetError())
	}
	fmt.Fprintf(tw, "counts\t%s\n", countsLine(j.GetAction(), j.GetCounts()))
	fmt.Fprintf(tw, "created\t%s by %s (%s, %s)\n", j.GetCreateTime().AsTime().Local().Format(time.DateTime), j.GetCreatedBy().GetSubject(), j.GetCreatedBy().GetKind(), j.GetCreatedBy().GetRole())
	if j.GetStartTime() != nil {
		fmt.Fprintf(tw, "started\t%s\n", j.GetStartTime().AsTime().Local().Format(time.DateTime))
	}
	if j.GetFinishTime() != nil {
		fmt.Fprintf(tw, "finished\t%s\n", j.GetFinishTime().AsTime().Local().Format(time.DateTime))
	}
	if j.GetOutcomesExpireTime() != nil {
		fmt.Fprintf(tw, "rows kept until\t%s\n", j.GetOutcomesExpireTime().AsTime().Local().Format(time.DateTime))
	}
	for _, s := range j.GetSections() {
		fmt.Fprintf(tw, "section %s\t%s\n", s.GetSectionId(), plural(s.GetProfiles(), "profile", "profiles"))
	}
	tw.Flush()
}

func listOr(l []string, none string) string {
	if len(l) == 0 {
		return none
	}
	return strings.Join(l, ", ")
}

func (c *cli) watchCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "watch JOB_ID",
		Short: "Follow a job until it ends, with a progress bar on a terminal (Ctrl-C asks whether to cancel it)",
		Args:  exactArgs(1, "the job id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			interrupts, stop := catchInterrupts()
			defer stop()
			s, err := c.svc.WatchJob(cmd.Context(), &erasurev1.WatchJobRequest{AccountId: c.account, JobId: args[0]})
			if err != nil {
				return err
			}
			recv := jobStreamOf(s.Recv)
			first, err := recv()
			if err != nil {
				return err
			}
			j, err := c.follow(cmd.Context(), interrupts, first, recv)
			if err != nil {
				return err
			}
			return c.finish(j, nil)
		},
	}
}

func (c *cli) cancelCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel JOB_ID",
		Short: "Ask a queued or running job to stop; it deletes nothing after the batch it is running",
		Args:  exactArgs(1, "the job id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			resp, err := c.svc.CancelJob(cmd.Context(), &erasurev1.CancelJobRequest{AccountId: c.account, JobId: args[0]})
			if err != nil {
				return err
			}
			j := resp.GetJob()
			if c.output == "json" {
				return c.printJSON(j)
			}
			if ended(j) {
				fmt.Fprintf(c.tio.out, "Job %s %s: %s.\n", j.GetJobId(), stateWord(j), countsLine(j.GetAction(), j.GetCounts()))
				return nil
			}
			fmt.Fprintf(c.tio.out, "Cancel requested for job %s (%s); it stops within about a second. Follow it with: erasurectl watch %s\n", j.GetJobId(), stateWord(j), j.GetJobId())
			return nil
		},
	}
}

func (c *cli) reportCommand() *cobra.Command {
	var csvPath string
	cmd := &cobra.Command{
		Use:   "report JOB_ID [--csv FILE]",
		Short: "Show a job's report: its counts and the first rows of each outcome; --csv writes every row",
		Args:  exactArgs(1, "the job id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if csvPath != "" {
				return c.downloadReport(cmd, args[0], csvPath)
			}
			resp, err := c.svc.GetJobReport(cmd.Context(), &erasurev1.GetJobReportRequest{AccountId: c.account, JobId: args[0]})
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(resp)
			}
			w := c.tio.out
			j := resp.GetJob()
			fmt.Fprintf(w, "Job %s (%s, %s) %s: %s.\n", j.GetJobId(), enumWord(j.GetAction().String(), "JOB_ACTION_"), source(j), stateWord(j), countsLine(j.GetAction(), j.GetCounts()))
			if resp.RowsNotProcessed != nil && resp.GetRowsNotProcessed() > 0 {
				fmt.Fprintf(w, "%s never processed.\n", plural(resp.GetRowsNotProcessed(), "row was", "rows were"))
			}
			if resp.GetOutcomesPurged() {
				fmt.Fprintln(w, "The per-row outcomes were deleted after their retention; the counts remain.")
			}
			for _, o := range resp.GetOutcomes() {
				fmt.Fprintf(w, "%s: %d\n", enumWord(o.GetOutcome().String(), "OUTCOME_"), o.GetCount())
				for _, r := range o.GetRows() {
					fmt.Fprintf(w, "  row %d  %s\n", r.GetRow(), rowDetail(r))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&csvPath, "csv", "", "write the full report (one line per row) as CSV to this file; '-' for standard output")
	return cmd
}

// rowDetail is what a report says about one row.
func rowDetail(r *erasurev1.RowOutcome) string {
	parts := []string{r.GetValue()}
	if r.GetProfileId() != "" {
		parts = append(parts, "profile "+r.GetProfileId())
	}
	if r.GetDuplicateOfRow() > 0 {
		parts = append(parts, fmt.Sprintf("same as row %d", r.GetDuplicateOfRow()))
	}
	if r.GetReason() != "" {
		parts = append(parts, r.GetReason())
	}
	if r.GetHint() != "" {
		parts = append(parts, r.GetHint())
	}
	return strings.Join(parts, "  ")
}

// downloadReport writes the report CSV; a broken download leaves no file.
func (c *cli) downloadReport(cmd *cobra.Command, jobID, path string) error {
	s, err := c.svc.DownloadReport(cmd.Context(), &erasurev1.DownloadReportRequest{AccountId: c.account, JobId: jobID})
	if err != nil {
		return err
	}
	n, err := c.writeStream(path, func() ([]byte, error) {
		m, err := s.Recv()
		return m.GetData(), err
	})
	if err != nil || path == "-" {
		return err
	}
	if c.output == "json" {
		return c.printJSON(map[string]any{"file": path, "bytes": n})
	}
	fmt.Fprintf(c.tio.err, "Wrote %s (%d bytes).\n", path, n)
	return nil
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, os.PathSeparator); i >= 0 {
		return path[:i+1]
	}
	return "."
}

func (c *cli) auditCommand() *cobra.Command {
	var jobID string
	var limit int
	cmd := &cobra.Command{
		Use:   "audit [--job JOB_ID]",
		Short: "List the audit trail, newest first: jobs started, cancels asked, jobs finished, with who and the counts",
		Args:  exactArgs(0, "no arguments (--job filters by job)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			events, err := pages(limit, func(size int32, token string) ([]*erasurev1.AuditEvent, string, error) {
				resp, err := c.svc.ListAuditEvents(cmd.Context(), &erasurev1.ListAuditEventsRequest{AccountId: c.account, JobId: jobID, PageSize: size, PageToken: token})
				return resp.GetEvents(), resp.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			return printList(c, "events", events, "TIME\tEVENT\tBY\tJOB\tACTION\tKIND\tSTATE\tCOUNTS", func(e *erasurev1.AuditEvent) string {
				return fmt.Sprintf("%s\t%s\t%s (%s)\t%s\t%s\t%s\t%s\t%s", e.GetTime().AsTime().Local().Format(time.DateTime),
					enumWord(e.GetAction().String(), "AUDIT_ACTION_"), e.GetActor().GetSubject(), e.GetActor().GetRole(), e.GetJobId(),
					enumWord(e.GetJobAction().String(), "JOB_ACTION_"), enumWord(e.GetJobKind().String(), "JOB_KIND_"),
					enumWord(e.GetJobState().String(), "JOB_STATE_"), countsLine(e.GetJobAction(), e.GetCounts()))
			})
		},
	}
	cmd.Flags().StringVar(&jobID, "job", "", "only this job's events")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many events")
	return cmd
}

func (c *cli) verifyCommand() *cobra.Command {
	var idType, region, profileID string
	cmd := &cobra.Command{
		Use:   "verify --type TYPE VALUE | --profile PROFILE_ID",
		Short: "Say whether a person was erased: every recorded deletion of an identifier or profile id",
		Long: `verify answers "was this person erased?" from the audit trail, which keeps
identifiers only as keyed hashes. It exits 0 when an erasure is recorded and 7
when none is. Give the value as an argument, or '-' to read it from standard
input (so it stays out of the shell history).`,
		Args: func(_ *cobra.Command, args []string) error {
			if (len(args) == 1) == (profileID != "") {
				return usagef("give an identifier VALUE with --type, or --profile PROFILE_ID")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &erasurev1.VerifyErasureRequest{AccountId: c.account}
			if profileID != "" {
				req.Target = &erasurev1.VerifyErasureRequest_ProfileId{ProfileId: profileID}
			} else {
				t, err := identifierType(idType)
				if err != nil {
					return err
				}
				value := args[0]
				if value == "-" {
					line, ok := <-c.readLines()
					if !ok || line == "" {
						return usagef("no value on standard input")
					}
					value = line
				}
				req.Target = &erasurev1.VerifyErasureRequest_Value{Value: value}
				req.Spec = &erasurev1.DeletionSpec{IdentifierType: t, DefaultRegion: region}
			}
			resp, err := c.svc.VerifyErasure(cmd.Context(), req)
			if err != nil {
				return err
			}
			if c.output == "json" {
				if err := c.printJSON(resp); err != nil {
					return err
				}
			} else {
				for _, e := range resp.GetErasures() {
					fmt.Fprintf(c.tio.out, "Erased %s by job %s (%s, row %d).\n", e.GetTime().AsTime().Local().Format(time.DateTime), e.GetJobId(), enumWord(e.GetJobKind().String(), "JOB_KIND_"), e.GetRow())
				}
			}
			if len(resp.GetErasures()) == 0 {
				return &exitStatus{code: exitNotErased, msg: "No erasure of it is recorded in this account."}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&idType, "type", "", "the identifier's type: email, phone or crm-id")
	cmd.Flags().StringVar(&region, "region", "", "ISO 3166-1 region for a phone number without a country code")
	cmd.Flags().StringVar(&profileID, "profile", "", "the deleted profile's id instead of an identifier")
	return cmd
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print erasurectl's version",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "erasurectl", buildinfo.Version())
			return err
		},
	}
}
