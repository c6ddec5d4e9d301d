package scanner

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/cel-go/common/types"
)

// RunTests evaluates a check's own tests section (ADR 0009): every tests.pass subject must
// produce no finding (it passes or the check does not apply) and every tests.fail subject
// must produce one, evidence included. Each test binds the subject's variables, now
// (DefaultTestNow unless the test sets it) and params (the schema's defaults merged with
// the test's). It returns nil for a collector. Errors name the file, line and test.
func (c *Catalog) RunTests(ctx context.Context, m *Module) error {
	if m.Kind != KindCheck || m.prog == nil {
		return nil
	}
	fv := c.parser.envs.values
	wd := newWatchdog(ctx, DefaultEvalTimeout)
	defer wd.close()
	var errs []error
	for _, t := range m.tests {
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s:%d: %s %s: %s", m.Path, t.line, m.Ref(), t.name,
				fmt.Sprintf(format, args...)))
		}
		params, err := paramsValue(m, t.params)
		if err != nil {
			fail("%v", err)
			continue
		}
		act := &activation{}
		for name, v := range t.vars {
			val, size := fv.value(v)
			act.setSized(name, val, size)
		}
		act.set("now", types.Timestamp{Time: t.now})
		pv, size := fv.params(params)
		act.setSized("params", pv, size)
		res, _, err := evalCheck(wd, m, act, true)
		switch {
		case res == outError:
			fail("evaluation failed: %v", err)
		case err != nil:
			fail("evidence failed: %v", err)
		case t.pass && res == outFailed:
			fail("expected no finding, but the check failed")
		case !t.pass && res == outPassed:
			fail("expected a finding, but the check passed")
		case !t.pass && res == outNotApplicable:
			fail("expected a finding, but applies_to is false")
		}
	}
	return errors.Join(errs...)
}
