package cluster

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// kitLogger adapts slog to the go-kit logger dskit and memberlist log
// through: "level" picks the slog level, "msg" the message, the rest
// become attributes.
func kitLogger(l *slog.Logger) log.Logger {
	return log.LoggerFunc(func(kv ...any) error {
		lvl, msg := slog.LevelInfo, ""
		attrs := make([]any, 0, len(kv))
		for i := 0; i+1 < len(kv); i += 2 {
			k := fmt.Sprint(kv[i])
			switch v := kv[i+1]; {
			case k == "level":
				lvl = slogLevel(v)
			case k == "msg" && msg == "":
				msg = fmt.Sprint(v)
			default:
				attrs = append(attrs, k, v)
			}
		}
		if l.Enabled(context.Background(), lvl) {
			l.Log(context.Background(), lvl, msg, attrs...)
		}
		return nil
	})
}

func slogLevel(v any) slog.Level {
	switch v {
	case level.DebugValue():
		return slog.LevelDebug
	case level.WarnValue():
		return slog.LevelWarn
	case level.ErrorValue():
		return slog.LevelError
	}
	return slog.LevelInfo
}
