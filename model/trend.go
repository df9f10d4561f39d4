package model

// Trend returns the model's current growth per step, b_t (for a damped
// model the next step adds φ·b_t).
func (m *HoltWinters) Trend() float64 { return m.trend }
