package segment

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/erasure-dev/erasure/internal/identifier"
)

// Marshal encodes a definition as JSON, to be stored with a snapshot and
// read back by [Unmarshal] with the same meaning: every node keeps its kind
// and every value its type (an integer of any width reads back as int64).
func Marshal(s Segment) ([]byte, error) {
	root, err := wireOf(s.Root)
	if err != nil {
		return nil, err
	}
	return json.Marshal(root)
}

// Unmarshal decodes what [Marshal] encoded.
func Unmarshal(data []byte) (Segment, error) {
	var w wireNode
	if err := json.Unmarshal(data, &w); err != nil {
		return Segment{}, fmt.Errorf("decode segment: %w", err)
	}
	n, err := w.node()
	if err != nil {
		return Segment{}, err
	}
	g, ok := n.(Group)
	if !ok {
		return Segment{}, errors.New("decode segment: the root is not a group")
	}
	return Segment{Root: g}, nil
}

// wireNode holds exactly one node.
type wireNode struct {
	Group     *wireGroup     `json:"group,omitempty"`
	KeyType   *wireKeyType   `json:"key_type,omitempty"`
	Attribute *wireAttribute `json:"attribute,omitempty"`
	Tag       *Tag           `json:"tag,omitempty"`
	Event     *Event         `json:"event,omitempty"`
	Consent   *Consent       `json:"consent,omitempty"`
	Time      *Time          `json:"time,omitempty"`
}

type wireGroup struct {
	Op       GroupOp    `json:"op"`
	Negate   bool       `json:"negate,omitempty"`
	Children []wireNode `json:"children"`
}

type wireKeyType struct {
	Type   identifier.Type `json:"type"`
	Negate bool            `json:"negate,omitempty"`
}

type wireAttribute struct {
	Section string     `json:"section,omitempty"`
	Name    string     `json:"name"`
	Op      AttrOp     `json:"op"`
	Value   *wireValue `json:"value,omitempty"`
	Negate  bool       `json:"negate,omitempty"`
}

// wireValue holds one typed value.
type wireValue struct {
	String *string    `json:"string,omitempty"`
	Bool   *bool      `json:"bool,omitempty"`
	Int    *int64     `json:"int,omitempty"`
	Float  *float64   `json:"float,omitempty"`
	Time   *time.Time `json:"time,omitempty"`
}

func wireOf(n Node) (wireNode, error) {
	switch n := n.(type) {
	case Group:
		g := &wireGroup{Op: n.Op, Negate: n.Negate, Children: make([]wireNode, 0, len(n.Children))}
		for _, c := range n.Children {
			w, err := wireOf(c)
			if err != nil {
				return wireNode{}, err
			}
			g.Children = append(g.Children, w)
		}
		return wireNode{Group: g}, nil
	case KeyType:
		return wireNode{KeyType: &wireKeyType{Type: n.Type, Negate: n.Negate}}, nil
	case Attribute:
		a := &wireAttribute{Section: n.Section, Name: n.Name, Op: n.Op, Negate: n.Negate}
		if n.Value != nil {
			v, err := wireValueOf(n.Value)
			if err != nil {
				return wireNode{}, err
			}
			a.Value = &v
		}
		return wireNode{Attribute: a}, nil
	case Tag:
		return wireNode{Tag: &n}, nil
	case Event:
		return wireNode{Event: &n}, nil
	case Consent:
		return wireNode{Consent: &n}, nil
	case Time:
		return wireNode{Time: &n}, nil
	}
	return wireNode{}, fmt.Errorf("encode segment: unknown node %T", n)
}

func wireValueOf(v any) (wireValue, error) {
	switch v := v.(type) {
	case string:
		return wireValue{String: &v}, nil
	case bool:
		return wireValue{Bool: &v}, nil
	case time.Time:
		return wireValue{Time: &v}, nil
	}
	n, ok := toNumber(v)
	if !ok {
		return wireValue{}, fmt.Errorf("encode segment: a value of type %T", v)
	}
	if n.isInt {
		return wireValue{Int: &n.i}, nil
	}
	if math.IsInf(n.f, 0) {
		return wireValue{}, errors.New("encode segment: an infinite number")
	}
	return wireValue{Float: &n.f}, nil
}

func (w wireNode) node() (Node, error) {
	switch {
	case w.Group != nil:
		g := Group{Op: w.Group.Op, Negate: w.Group.Negate}
		for _, c := range w.Group.Children {
			n, err := c.node()
			if err != nil {
				return nil, err
			}
			g.Children = append(g.Children, n)
		}
		return g, nil
	case w.KeyType != nil:
		return KeyType(*w.KeyType), nil
	case w.Attribute != nil:
		a := Attribute{Section: w.Attribute.Section, Name: w.Attribute.Name, Op: w.Attribute.Op, Negate: w.Attribute.Negate}
		if v := w.Attribute.Value; v != nil {
			switch {
			case v.String != nil:
				a.Value = *v.String
			case v.Bool != nil:
				a.Value = *v.Bool
			case v.Int != nil:
				a.Value = *v.Int
			case v.Float != nil:
				a.Value = *v.Float
			case v.Time != nil:
				a.Value = *v.Time
			}
		}
		return a, nil
	case w.Tag != nil:
		return *w.Tag, nil
	case w.Event != nil:
		return *w.Event, nil
	case w.Consent != nil:
		return *w.Consent, nil
	case w.Time != nil:
		return *w.Time, nil
	}
	return nil, errors.New("decode segment: a node of no known kind")
}
