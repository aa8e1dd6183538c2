package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
)

// request is what delete and unsubscribe act on and how.
type request struct {
	unsubscribe bool

	// One source: a file, a list, or one profile.
	file    string
	list    string
	values  []string
	profile string

	idType       string
	region       string
	column       string
	columnNumber int32
	sheet        string
	header       string

	// Which consents an unsubscribe opts out.
	channel  string
	topics   []string
	sections []string

	yes       bool
	requestID string
}

func (c *cli) deleteCommand() *cobra.Command {
	return c.actionCommand(&request{}, &cobra.Command{
		Use:   "delete [FILE] --type TYPE [--column NAME]",
		Short: "Delete the profiles a file, a list or a profile id names, with all their data in every section",
		Long: `delete permanently deletes the profiles that the rows of a CSV or XLSX file,
a list of values, or one profile id name, with their data in every section.

Rows match only profiles whose Unique Identifier is of the --type given. A
preview of what would happen is shown first (rows, valid, invalid, duplicate,
matched, not found, the sections the matched profiles hold data in) and a
confirmation asked; --yes skips the question. While the job runs, Ctrl-C asks
whether to cancel it or leave it running on the server.`,
		Example: `  erasurectl delete --type email --column Email people.csv
  erasurectl delete --type phone --region SE --column-number 3 --sheet Export people.xlsx
  erasurectl delete --type crm-id --value C-1001 --value C-1002
  erasurectl delete --type email --list addresses.txt --yes -o json
  erasurectl delete --profile 65f0c0ffee0123456789abcd`,
	})
}

func (c *cli) unsubscribeCommand() *cobra.Command {
	r := &request{unsubscribe: true}
	cmd := c.actionCommand(r, &cobra.Command{
		Use:   "unsubscribe [FILE] --type TYPE --channel CHANNEL [--column NAME]",
		Short: "Opt out the consents of the profiles a file, a list or a profile id names; the profiles stay",
		Long: `unsubscribe opts out the consents of one channel (and of the topics and
sections given, all when none) of the profiles a file, a list or a profile id
names. The profiles and their data stay. A preview is shown and a
confirmation asked first, as for delete.`,
		Example: `  erasurectl unsubscribe --type email --column Email --channel email people.csv
  erasurectl unsubscribe --type email --channel email --topic newsletter --value a@example.com`,
	})
	f := cmd.Flags()
	f.StringVar(&r.channel, "channel", "", "the consents' channel, as profiles store it: email, sms, … (required)")
	f.StringArrayVar(&r.topics, "topic", nil, "only consents to this topic (repeat for more); every topic when none")
	f.StringArrayVar(&r.sections, "section", nil, "only consents in this section (repeat for more); every section you may see when none")
	return cmd
}

// actionCommand adds the flags delete and unsubscribe share.
func (c *cli) actionCommand(r *request, cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(_ *cobra.Command, args []string) error {
		if len(args) > 1 {
			return usagef("give one file (or none, with --list, --value or --profile)")
		}
		if len(args) == 1 {
			r.file = args[0]
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return c.runAction(cmd.Context(), r) }
	f := cmd.Flags()
	f.StringVar(&r.idType, "type", "", "the Unique Identifier type rows are matched by: email, phone or crm-id (required for a file or list)")
	f.StringVar(&r.region, "region", "", "ISO 3166-1 region for phone numbers written without a country code (SE, GB)")
	f.StringVar(&r.column, "column", "", "the file's column holding the identifiers, by header name")
	f.Int32Var(&r.columnNumber, "column-number", 0, "the file's column holding the identifiers, by number (1 is the first)")
	f.StringVar(&r.sheet, "sheet", "", "the sheet of an XLSX file; the first when empty")
	f.StringVar(&r.header, "header", "auto", "whether the first row holds column names: auto, present or absent")
	f.StringVar(&r.list, "list", "", "a file with one identifier per line instead of FILE ('-' reads standard input)")
	f.StringArrayVar(&r.values, "value", nil, "an identifier (repeat for more) instead of FILE")
	f.StringVar(&r.profile, "profile", "", "one profile, by its id (24 hexadecimal digits)")
	f.BoolVarP(&r.yes, "yes", "y", false, "do not ask for a confirmation (the preview is still shown)")
	f.StringVar(&r.requestID, "request-id", "", "an id that makes running the same command again safe: within 24 hours it gets the first run's job")
	return cmd
}

// verb is what the action does, for messages.
func (r *request) verb() string {
	if r.unsubscribe {
		return "unsubscribe"
	}
	return "delete"
}

func (r *request) check() error {
	sources := 0
	for _, set := range []bool{r.file != "", r.list != "" || len(r.values) > 0, r.profile != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return usagef("give one of: a FILE, --list or --value, or --profile")
	}
	if r.list != "" && len(r.values) > 0 {
		return usagef("give --list or --value, not both")
	}
	if r.profile != "" && r.idType != "" {
		return usagef("--profile names the profile by its id: give no --type")
	}
	if r.profile == "" {
		if _, err := identifierType(r.idType); err != nil {
			return err
		}
	}
	if r.file == "" && (r.column != "" || r.columnNumber != 0 || r.sheet != "" || r.header != "auto") {
		return usagef("--column, --column-number, --sheet and --header are for a FILE")
	}
	if r.column != "" && r.columnNumber != 0 {
		return usagef("give --column or --column-number, not both")
	}
	if r.columnNumber < 0 {
		return usagef("--column-number is 1 or more")
	}
	if _, err := headerMode(r.header); err != nil {
		return err
	}
	if r.unsubscribe && strings.TrimSpace(r.channel) == "" {
		return usagef("--channel is required: the channel whose consents are opted out (email, sms, …)")
	}
	return nil
}

func identifierType(s string) (erasurev1.IdentifierType, error) {
	switch strings.ToLower(strings.ReplaceAll(s, "_", "-")) {
	case "email", "e-mail":
		return erasurev1.IdentifierType_IDENTIFIER_TYPE_EMAIL, nil
	case "phone":
		return erasurev1.IdentifierType_IDENTIFIER_TYPE_PHONE, nil
	case "crm-id", "crmid", "crm":
		return erasurev1.IdentifierType_IDENTIFIER_TYPE_CRM_ID, nil
	case "":
		return 0, usagef("--type is required: email, phone or crm-id (rows match only profiles whose Unique Identifier is of this type)")
	}
	return 0, usagef("--type %q: use email, phone or crm-id", s)
}

func headerMode(s string) (erasurev1.HeaderMode, error) {
	switch s {
	case "auto":
		return erasurev1.HeaderMode_HEADER_MODE_UNSPECIFIED, nil
	case "present":
		return erasurev1.HeaderMode_HEADER_MODE_PRESENT, nil
	case "absent":
		return erasurev1.HeaderMode_HEADER_MODE_ABSENT, nil
	}
	return 0, usagef("--header %q: use auto, present or absent", s)
}

func (r *request) unsubscribeSpec() *erasurev1.UnsubscribeSpec {
	if !r.unsubscribe {
		return nil
	}
	return &erasurev1.UnsubscribeSpec{Channel: strings.TrimSpace(r.channel), Topics: r.topics, Sections: r.sections}
}

// runAction previews, asks, starts the job and follows it.
func (c *cli) runAction(ctx context.Context, r *request) error {
	if err := r.check(); err != nil {
		return err
	}
	if r.profile != "" {
		return c.runProfile(ctx, r)
	}
	t, _ := identifierType(r.idType)
	spec := &erasurev1.DeletionSpec{IdentifierType: t, DefaultRegion: r.region}

	// Until the job starts, Ctrl-C stops erasurectl: nothing was changed.
	early, stopEarly := signal.NotifyContext(ctx, os.Interrupt)
	defer stopEarly()

	var src *erasurev1.FileSource
	var values []string
	var what string
	// An upload holds personal data: it is discarded at once unless a job
	// took it over (a job deletes its upload when it ends).
	var uploadID string
	defer func() {
		if uploadID != "" {
			c.discardUpload(ctx, uploadID)
		}
	}()
	if r.file != "" {
		var err error
		if src, what, err = c.fileSource(early, r, t); err != nil {
			return err
		}
		uploadID = src.GetUploadId()
	} else {
		var err error
		if values, err = r.readValues(c.tio.in); err != nil {
			return err
		}
		what = "a list of " + plural(int64(len(values)), "value", "values")
	}

	pv, err := c.preview(early, &erasurev1.StartPreviewRequest{AccountId: c.account, Source: src, Values: values, Spec: spec, Unsubscribe: r.unsubscribeSpec()})
	if err != nil {
		return err
	}
	matched := pv.GetDeletion().GetCounts().GetMatched() + pv.GetUnsubscribe().GetCounts().GetUnsubscribed()
	if c.output == "text" {
		c.printPreview(r, what, pv)
	}
	if matched == 0 {
		if c.output == "json" {
			return c.printJSON(map[string]any{"preview": pv})
		}
		fmt.Fprintf(c.tio.out, "Nothing to %s: no row matched a profile that would change. No job was started.\n", r.verb())
		return nil
	}
	question := deleteQuestion(matched)
	if r.unsubscribe {
		question = fmt.Sprintf("Opt out the %s consents of %s?", r.channel, plural(matched, "profile", "profiles"))
	}
	if err := c.mustConfirm(early, r.yes, question); err != nil {
		return err
	}
	interrupts, stopInterrupts := catchInterrupts()
	defer stopInterrupts()
	stopEarly()

	first, recv, err := c.start(ctx, r, src, values, spec)
	if err != nil {
		return err
	}
	uploadID = ""
	j, err := c.follow(ctx, interrupts, first, recv)
	if err != nil {
		return err
	}
	return c.finish(j, map[string]any{"preview": pv})
}

// runProfile deletes or unsubscribes one profile by id, after asking.
func (c *cli) runProfile(ctx context.Context, r *request) error {
	question := fmt.Sprintf("Delete profile %s with all its data in every section? This cannot be undone.", r.profile)
	if r.unsubscribe {
		question = fmt.Sprintf("Opt out the %s consents of profile %s?", r.channel, r.profile)
	}
	if err := c.mustConfirm(ctx, r.yes, question); err != nil {
		return err
	}
	var j *erasurev1.Job
	if r.unsubscribe {
		resp, err := c.svc.UnsubscribeProfile(ctx, &erasurev1.UnsubscribeProfileRequest{AccountId: c.account, ProfileId: r.profile, Unsubscribe: r.unsubscribeSpec(), RequestId: r.requestID})
		if err != nil {
			return err
		}
		j = resp.GetJob()
	} else {
		resp, err := c.svc.DeleteProfile(ctx, &erasurev1.DeleteProfileRequest{AccountId: c.account, ProfileId: r.profile, RequestId: r.requestID})
		if err != nil {
			return err
		}
		j = resp.GetJob()
	}
	return c.finish(j, nil)
}
