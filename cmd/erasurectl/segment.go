package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
)

func (c *cli) segmentCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "segment",
		Short: "Count, show, export or delete the profiles a segment matches",
		Long: `A segment is given as a JSON file holding a Segment message (see
proto/erasure/v1/erasure.proto), for example

  {"root": {"op": "SEGMENT_GROUP_OP_ALL", "children": [{"tag": {"name": "internal_test"}}]}}

or '-' to read it from standard input.`,
		Args: func(_ *cobra.Command, args []string) error {
			return usagef("name a segment command: count, show, export or delete")
		},
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	cmd.AddCommand(c.segmentCount(), c.segmentShow(), c.segmentExport(), c.segmentDelete())
	return cmd
}

// readSegment reads a segment definition from a file, or standard input.
func (c *cli) readSegment(path string) (*erasurev1.Segment, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(c.tio.in)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, usageError{err}
	}
	seg := &erasurev1.Segment{}
	// A definition wrapped as in a request ({"segment": {...}}) is taken too.
	if err := protojson.Unmarshal(b, seg); err != nil {
		req := &erasurev1.CountSegmentRequest{}
		if protojson.Unmarshal(b, req) != nil || req.GetSegment() == nil {
			return nil, usagef("%s is not a segment definition: %v", path, err)
		}
		seg = req.GetSegment()
	}
	return seg, nil
}

func (c *cli) segmentCount() *cobra.Command {
	return &cobra.Command{
		Use:   "count SEGMENT.json",
		Short: "Count the profiles a segment matches, per section, and say whether you may delete them from it",
		Args:  exactArgs(1, "the segment definition (a JSON file, or '-')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			seg, err := c.readSegment(args[0])
			if err != nil {
				return err
			}
			resp, err := c.svc.CountSegment(cmd.Context(), &erasurev1.CountSegmentRequest{AccountId: c.account, Segment: seg})
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(resp)
			}
			w := c.tio.out
			fmt.Fprintf(w, "%s match.\n", plural(resp.GetProfiles(), "profile", "profiles"))
			if resp.GetUndecidedProfiles() > 0 {
				fmt.Fprintf(w, "%s could not be decided (data stored in a form this service cannot read) and do not match.\n", plural(resp.GetUndecidedProfiles(), "profile", "profiles"))
			}
			printSegmentSections(w, resp.GetSections())
			if resp.GetDeletionOffered() {
				fmt.Fprintln(w, "You may delete them from the segment: erasurectl segment delete "+args[0])
			} else {
				fmt.Fprintf(w, "Deleting from the segment is not offered (%s): %s\n", resp.GetDeletionUnavailableReason(), resp.GetDeletionUnavailableMessage())
			}
			return nil
		},
	}
}

func printSegmentSections(w io.Writer, sections []*erasurev1.SegmentSectionCount) {
	if len(sections) == 0 {
		return
	}
	fmt.Fprintln(w, "Sections they hold data in:")
	for _, s := range sections {
		note := ""
		if !s.GetVisible() {
			note = "(not visible to your token; deleted with the profiles)"
		}
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-15s %10d  %s", s.GetSectionId(), s.GetProfiles(), note), " "))
	}
}

func (c *cli) segmentShow() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "show SEGMENT.json",
		Short: "List the profiles a segment matches, in profile id order",
		Args:  exactArgs(1, "the segment definition (a JSON file, or '-')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			seg, err := c.readSegment(args[0])
			if err != nil {
				return err
			}
			req := &erasurev1.ShowSegmentProfilesRequest{AccountId: c.account, Segment: seg}
			profiles, err := pages(limit, func(size int32, token string) ([]*erasurev1.SegmentProfile, string, error) {
				req.PageSize, req.PageToken = size, token
				resp, err := c.svc.ShowSegmentProfiles(cmd.Context(), req)
				// Every page at the first page's evaluation time.
				req.EvaluationTime = resp.GetEvaluationTime()
				return resp.GetProfiles(), resp.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			return printList(c, "profiles", profiles, "PROFILE\tKEY TYPE\tKEY\tEMAIL\tPHONE\tCRM ID", func(p *erasurev1.SegmentProfile) string {
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", p.GetProfileId(), typeWords(p.GetKeyType()), p.GetKeyValue(), p.GetEmail(), p.GetPhone(), p.GetCrmId())
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many profiles")
	return cmd
}

func (c *cli) segmentExport() *cobra.Command {
	var columns []string
	var out string
	cmd := &cobra.Command{
		Use:   "export SEGMENT.json --out FILE",
		Short: "Export the profiles a segment matches as CSV, which works unchanged as a delete file",
		Args:  exactArgs(1, "the segment definition (a JSON file, or '-')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("--out is required: the CSV file to write ('-' for standard output)")
			}
			seg, err := c.readSegment(args[0])
			if err != nil {
				return err
			}
			req := &erasurev1.ExportSegmentRequest{AccountId: c.account, Segment: seg}
			for _, name := range columns {
				col, ok := erasurev1.ExportColumn_value["EXPORT_COLUMN_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))]
				if !ok || col == 0 {
					return usagef("--columns %q: use email, phone, crm-id or key", name)
				}
				req.Columns = append(req.Columns, erasurev1.ExportColumn(col))
			}
			s, err := c.svc.ExportSegment(cmd.Context(), req)
			if err != nil {
				return err
			}
			var profiles int64
			n, err := c.writeStream(out, func() ([]byte, error) {
				m, err := s.Recv()
				profiles = max(profiles, m.GetProfiles())
				return m.GetData(), err
			})
			if err != nil {
				return err
			}
			if c.output == "json" && out != "-" {
				return c.printJSON(map[string]any{"file": out, "bytes": n, "profiles": profiles})
			}
			if out != "-" {
				fmt.Fprintf(c.tio.err, "Wrote %s: %s (%d bytes).\n", out, plural(profiles, "profile", "profiles"), n)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&columns, "columns", []string{"email"}, "the columns to write: email, phone, crm-id, key (the key type and value)")
	cmd.Flags().StringVar(&out, "out", "", "the CSV file to write; '-' for standard output")
	return cmd
}

func (c *cli) segmentDelete() *cobra.Command {
	var yes bool
	var requestID string
	cmd := &cobra.Command{
		Use:   "delete SEGMENT.json",
		Short: "Delete the profiles a segment matches now, after a preview and a confirmation",
		Long: `segment delete freezes the profiles the segment matches now (a snapshot),
shows how many and the sections they hold data in, asks, and deletes them.
Each profile is checked again when its batch runs: one the segment no longer
matches is left. Needs an owner or admin token and the account feature
segment_deletion.`,
		Args: exactArgs(1, "the segment definition (a JSON file, or '-')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			seg, err := c.readSegment(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			pv, err := c.svc.PreviewSegmentDeletion(ctx, &erasurev1.PreviewSegmentDeletionRequest{AccountId: c.account, Segment: seg})
			if err != nil {
				return err
			}
			if c.output == "text" {
				w := c.tio.out
				fmt.Fprintf(w, "Preview of delete from a segment: %s match now (frozen until %s).\n", plural(pv.GetProfiles(), "profile", "profiles"), pv.GetExpireTime().AsTime().Local().Format("15:04:05"))
				if pv.GetUndecidedProfiles() > 0 {
					fmt.Fprintf(w, "%s could not be decided and are not included.\n", plural(pv.GetUndecidedProfiles(), "profile", "profiles"))
				}
				printSegmentSections(w, pv.GetSections())
			}
			if err := c.mustConfirm(ctx, yes, deleteQuestion(pv.GetProfiles())); err != nil {
				return err
			}
			interrupts, stop := catchInterrupts()
			defer stop()
			s, err := c.svc.ExecuteSegmentDeletion(ctx, &erasurev1.ExecuteSegmentDeletionRequest{AccountId: c.account, SnapshotId: pv.GetSnapshotId(), ExpectedProfiles: pv.GetProfiles(), RequestId: requestID})
			if err != nil {
				return err
			}
			recv := jobStreamOf(s.Recv)
			first, err := recv()
			if err != nil {
				return err
			}
			j, err := c.follow(ctx, interrupts, first, recv)
			if err != nil {
				return err
			}
			return c.finish(j, map[string]any{"preview": pv})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for a confirmation (the preview is still shown)")
	cmd.Flags().StringVar(&requestID, "request-id", "", "an id that makes running the same command again safe: within 24 hours it gets the first run's job")
	return cmd
}

// writeStream writes the data of a stream to path ('-': standard output);
// a file is written under a temporary name and renamed when complete, so a
// broken stream leaves no partial file.
func (c *cli) writeStream(path string, next func() ([]byte, error)) (int64, error) {
	var out io.Writer = c.tio.out
	var f *os.File
	if path != "-" {
		var err error
		if f, err = os.CreateTemp(dirOf(path), ".erasure-download-*"); err != nil {
			return 0, err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		out = f
	}
	var n int64
	for {
		b, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
		k, err := out.Write(b)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	if f == nil {
		return n, nil
	}
	if err := f.Close(); err != nil {
		return n, err
	}
	return n, os.Rename(f.Name(), path)
}
