package query

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// ErrLimit is wrapped by every error of a query refused for its size
// (length or nesting depth), before it is parsed.
var ErrLimit = errors.New("query exceeds a limit")

// Check refuses a query longer than MaxLength bytes or nested deeper than
// MaxDepth, then parses it. The length and the nesting of brackets and
// unary signs are checked on the text, before Prometheus' parser sees it:
// 100,000 nested parentheses cost the parser a minute of CPU, and a tree
// millions deep would overflow the evaluator's stack. Chains of binary
// operators (a + a + ... + a), cheap to parse, are measured on the tree.
func (e *Engine) Check(qs string) error {
	_, err := e.Parse(qs)
	return err
}

// Parse checks qs as Check does and returns its expression.
func (e *Engine) Parse(qs string) (parser.Expr, error) {
	if len(qs) > e.opts.MaxLength {
		return nil, fmt.Errorf("%w: the query is %d bytes long, more than the %d bytes --query.max-length allows", ErrLimit, len(qs), e.opts.MaxLength)
	}
	if d := textDepth(qs); d > e.opts.MaxDepth {
		return nil, depthError(d, e.opts.MaxDepth)
	}
	if strings.TrimSpace(qs) == "" {
		return nil, errors.New("empty query")
	}
	expr, err := parser.ParseExpr(qs)
	if err != nil {
		return nil, err
	}
	if d := treeDepth(expr, e.opts.MaxDepth); d > e.opts.MaxDepth {
		return nil, depthError(d, e.opts.MaxDepth)
	}
	return expr, nil
}

func depthError(d, limit int) error {
	return fmt.Errorf("%w: the query nests %d levels deep (or more), more than the %d allowed; split it or use aggregations", ErrLimit, d, limit)
}

// textDepth is the deepest nesting of brackets in q, counting a run of
// unary signs (- - -x) as one level per sign after the first, outside
// string literals and comments. It overestimates the tree's depth by at
// most the signs of binary operators, which is harmless for a bound.
func textDepth(q string) int {
	depth, deepest, signs := 0, 0, 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '+', '-':
			signs++
			deepest = max(deepest, depth+signs-1)
			continue
		}
		signs = 0
		switch c {
		case '(', '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ')', ']', '}':
			depth = max(0, depth-1)
		case '"', '\'', '`':
			i = skipString(q, i)
		case '#':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		}
	}
	return deepest
}

// skipString returns the index of the quote closing the string literal
// opened at q[i] (len(q) when unterminated).
func skipString(q string, i int) int {
	quote := q[i]
	for i++; i < len(q); i++ {
		switch q[i] {
		case '\\':
			if quote != '`' {
				i++
			}
		case quote:
			return i
		}
	}
	return len(q)
}

// treeDepth is the depth of expr's tree, walked without recursion, or a
// value past limit as soon as one branch exceeds it.
func treeDepth(expr parser.Expr, limit int) int {
	type item struct {
		n parser.Node
		d int
	}
	stack := []item{{expr, 1}}
	deepest := 0
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		deepest = max(deepest, it.d)
		if deepest > limit {
			return deepest
		}
		for _, c := range parser.Children(it.n) {
			stack = append(stack, item{c, it.d + 1})
		}
	}
	return deepest
}
