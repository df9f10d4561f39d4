package model

func SetKnob(i int, v float64) { kn[i] = v }
