package rollout

import (
	"fmt"
	"math"
	"strconv"
)

// Judge says how a step's numbers decide it.
const (
	// JudgeThreshold (the default, also when empty): the canary's own 5xx rate and p99 against
	// fixed limits (Checks.Max5xxRate, Checks.MaxP99), at every tick.
	JudgeThreshold = "threshold"
	// JudgeStatistical compares the canary's 5xx rate with the stable routes' (the baseline) over
	// the same window with a two-proportion test, at the end of each interval (see judgeStep).
	JudgeStatistical = "statistical"
)

// Defaults of the statistical judge.
const (
	DefaultConfidence = 0.95
	DefaultMinEffect  = 0.01
)

// verdict of one statistical look at a step.
type verdict int

const (
	inconclusive verdict = iota
	notWorse
	worse
)

// stepLook is one statistical comparison of canary and baseline.
type stepLook struct {
	verdict   verdict
	canary    float64 // observed 5xx rates
	baseline  float64
	pWorse    float64 // p-value of "canary no worse than baseline" (small: worse)
	pNotWorse float64 // p-value of "canary worse by min_effect or more" (small: not worse)
	alpha     float64 // significance level this look used
}

// lookAlpha is the significance level of the k-th look (1-based) at one of steps steps, so that
// the chance of a wrong verdict over the whole roll-out stays below 1-confidence: Bonferroni over
// the steps (alpha/steps each), and within a step an alpha-spending of half the remainder per
// look (alpha/steps · 2^-k), which sums to at most alpha/steps however long the step waits.
func lookAlpha(confidence float64, steps, k int) float64 {
	return (1 - confidence) / float64(steps) * math.Pow(0.5, float64(k))
}

// compare runs both one-sided tests on canary and baseline 5xx counts at level alpha, with the
// Agresti-Caffo adjustment (one error and one success added to each side) so that small windows
// and windows without errors do not give false certainty.
//
//   - worse: H0 "canary rate <= baseline rate"; rejected (p < alpha) means the canary is worse.
//   - not worse: H0 "canary rate >= baseline rate + minEffect"; rejected means the canary is not
//     worse by minEffect or more (a non-inferiority test).
func compare(c, b Window, minEffect, alpha float64) stepLook {
	pc := (c.Errors5xx + 1) / (c.Requests + 2)
	pb := (b.Errors5xx + 1) / (b.Requests + 2)
	se := math.Sqrt(pc*(1-pc)/(c.Requests+2) + pb*(1-pb)/(b.Requests+2))
	l := stepLook{canary: c.ErrorRate(), baseline: b.ErrorRate(), alpha: alpha}
	l.pWorse = 1 - normalCDF((pc-pb)/se)
	l.pNotWorse = normalCDF((pc - pb - minEffect) / se)
	switch {
	case l.pWorse < alpha:
		l.verdict = worse
	case l.pNotWorse < alpha:
		l.verdict = notWorse
	}
	return l
}

func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// String is the look's figures for a reason: both rates, both p-values, the level.
func (l stepLook) String() string {
	return fmt.Sprintf("5xx rate canary %s vs baseline %s, p(worse)=%s p(not worse)=%s at alpha %s",
		percent(l.canary), percent(l.baseline), pval(l.pWorse), pval(l.pNotWorse), pval(l.alpha))
}

func pval(p float64) string { return strconv.FormatFloat(p, 'g', 3, 64) }
