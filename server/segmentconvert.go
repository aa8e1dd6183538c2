package server

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/segment"
)

// The segment enums of the API and the domain, paired. An UNSPECIFIED or
// unknown value becomes the domain's zero value, which validation refuses
// naming the condition.
var (
	groupOps = map[segment.GroupOp]erasurev1.SegmentGroupOp{
		segment.All: erasurev1.SegmentGroupOp_SEGMENT_GROUP_OP_ALL,
		segment.Any: erasurev1.SegmentGroupOp_SEGMENT_GROUP_OP_ANY,
	}
	attrOps = map[segment.AttrOp]erasurev1.AttributeOp{
		segment.OpEquals:         erasurev1.AttributeOp_ATTRIBUTE_OP_EQUALS,
		segment.OpNotEquals:      erasurev1.AttributeOp_ATTRIBUTE_OP_NOT_EQUALS,
		segment.OpContains:       erasurev1.AttributeOp_ATTRIBUTE_OP_CONTAINS,
		segment.OpStartsWith:     erasurev1.AttributeOp_ATTRIBUTE_OP_STARTS_WITH,
		segment.OpExists:         erasurev1.AttributeOp_ATTRIBUTE_OP_EXISTS,
		segment.OpNotExists:      erasurev1.AttributeOp_ATTRIBUTE_OP_NOT_EXISTS,
		segment.OpLess:           erasurev1.AttributeOp_ATTRIBUTE_OP_LESS,
		segment.OpLessOrEqual:    erasurev1.AttributeOp_ATTRIBUTE_OP_LESS_OR_EQUAL,
		segment.OpGreater:        erasurev1.AttributeOp_ATTRIBUTE_OP_GREATER,
		segment.OpGreaterOrEqual: erasurev1.AttributeOp_ATTRIBUTE_OP_GREATER_OR_EQUAL,
	}
	consentStatuses = map[string]erasurev1.ConsentStatus{
		profile.OptIn:  erasurev1.ConsentStatus_CONSENT_STATUS_OPT_IN,
		profile.OptOut: erasurev1.ConsentStatus_CONSENT_STATUS_OPT_OUT,
	}
	timeFields = map[segment.TimeField]erasurev1.TimeField{
		segment.Created: erasurev1.TimeField_TIME_FIELD_CREATED,
		segment.Updated: erasurev1.TimeField_TIME_FIELD_UPDATED,
	}
	timeOps = map[segment.TimeOp]erasurev1.TimeOp{
		segment.Before: erasurev1.TimeOp_TIME_OP_BEFORE,
		segment.After:  erasurev1.TimeOp_TIME_OP_AFTER,
	}
	exportColumns = map[deletion.ExportColumn]erasurev1.ExportColumn{
		deletion.ExportEmail: erasurev1.ExportColumn_EXPORT_COLUMN_EMAIL,
		deletion.ExportPhone: erasurev1.ExportColumn_EXPORT_COLUMN_PHONE,
		deletion.ExportCRMID: erasurev1.ExportColumn_EXPORT_COLUMN_CRM_ID,
		deletion.ExportKey:   erasurev1.ExportColumn_EXPORT_COLUMN_KEY,
	}
)

// segmentOf is the domain's form of a segment definition. Unset parts
// become zero values that validation refuses: a missing root is an empty
// group, a node with no condition set is nil.
func segmentOf(p *erasurev1.Segment) segment.Segment {
	return segment.Segment{Root: groupOf(p.GetRoot())}
}

func groupOf(p *erasurev1.SegmentGroup) segment.Group {
	g := segment.Group{Op: fromProto(groupOps, p.GetOp()), Negate: p.GetNegate()}
	for _, c := range p.GetChildren() {
		g.Children = append(g.Children, nodeOf(c))
	}
	return g
}

func nodeOf(p *erasurev1.SegmentNode) segment.Node {
	switch n := p.GetNode().(type) {
	case *erasurev1.SegmentNode_Group:
		return groupOf(n.Group)
	case *erasurev1.SegmentNode_KeyType:
		return segment.KeyType{Type: fromProto(identifierTypes, n.KeyType.GetType()), Negate: n.KeyType.GetNegate()}
	case *erasurev1.SegmentNode_Attribute:
		a := n.Attribute
		return segment.Attribute{Section: a.GetSectionId(), Name: a.GetName(), Op: fromProto(attrOps, a.GetOp()), Value: valueOf(a.GetValue()), Negate: a.GetNegate()}
	case *erasurev1.SegmentNode_Tag:
		return segment.Tag{Section: n.Tag.GetSectionId(), Name: n.Tag.GetName(), Negate: n.Tag.GetNegate()}
	case *erasurev1.SegmentNode_Event:
		e := n.Event
		return segment.Event{Section: e.GetSectionId(), Type: e.GetType(), AtLeast: int(e.GetAtLeast()), WithinDays: int(e.GetWithinDays()),
			From: timeOf(e.GetFromTime()), To: timeOf(e.GetToTime()), Negate: e.GetNegate()}
	case *erasurev1.SegmentNode_Consent:
		c := n.Consent
		return segment.Consent{Section: c.GetSectionId(), Channel: c.GetChannel(), Topic: c.GetTopic(), Status: fromProto(consentStatuses, c.GetStatus()), Negate: c.GetNegate()}
	case *erasurev1.SegmentNode_Time:
		t := n.Time
		return segment.Time{Field: fromProto(timeFields, t.GetField()), Op: fromProto(timeOps, t.GetOp()), At: timeOf(t.GetTime()), DaysAgo: int(t.GetDaysAgo()), Negate: t.GetNegate()}
	}
	return nil
}

// valueOf is an attribute value as the domain holds it; nil when unset.
func valueOf(p *erasurev1.AttributeValue) any {
	switch v := p.GetKind().(type) {
	case *erasurev1.AttributeValue_StringValue:
		return v.StringValue
	case *erasurev1.AttributeValue_BoolValue:
		return v.BoolValue
	case *erasurev1.AttributeValue_IntValue:
		return v.IntValue
	case *erasurev1.AttributeValue_DoubleValue:
		return v.DoubleValue
	case *erasurev1.AttributeValue_TimeValue:
		return timeOf(v.TimeValue)
	}
	return nil
}

// timeOf is a timestamp as a time, the zero time when unset. A timestamp
// out of range becomes a time validation refuses.
func timeOf(p *timestamppb.Timestamp) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.AsTime()
}

func segmentSectionsProto(list []job.SectionCount, by deletion.Caller) []*erasurev1.SegmentSectionCount {
	out := make([]*erasurev1.SegmentSectionCount, len(list))
	for i, s := range list {
		out[i] = &erasurev1.SegmentSectionCount{SectionId: s.SectionID, Profiles: s.Profiles, Visible: by.CanSee(s.SectionID)}
	}
	return out
}

func segmentProfileProto(p profile.Profile) *erasurev1.SegmentProfile {
	out := &erasurev1.SegmentProfile{
		ProfileId: p.ID,
		KeyType:   identifierTypes[p.Key.Type],
		KeyValue:  p.Key.Value,
		Email:     p.Email,
		Phone:     p.Phone,
		CrmId:     p.CRMID,
	}
	if !p.CreatedAt.IsZero() {
		out.CreateTime = timestamppb.New(p.CreatedAt)
	}
	return out
}
