package latency

import "github.com/modbatt/hilrun/bench/rig"

// FromRigSheet converts a budget sheet loaded and validated by the rig (rig.Rig.LoadBudgets),
// so a bench run checks the sheet once, with the rig's validation, and judges with it here.
func FromRigSheet(s *rig.BudgetSheet) *Sheet {
	if s == nil {
		return nil
	}
	out := &Sheet{Name: s.Name, Bitrate: s.Bitrate, Budgets: make([]Budget, 0, len(s.Budgets))}
	for _, b := range s.Budgets {
		out.Budgets = append(out.Budgets, Budget{Op: b.Op, Target: YAMLDuration(b.Target), Per: b.Per, Kind: b.Kind,
			Statistic: Statistic(b.Statistic), Source: b.Source, Note: b.Note, Waiver: b.Waiver})
	}
	return out
}
