# gen_reference.R writes the stats::HoltWinters reference fixtures that
# model/holtwinters_test.go checks augur's Holt-Winters against.
#
# Rerun from the repository root (needs only base R, e.g. Debian r-base-core):
#
#   Rscript model/testdata/gen_reference.R model/testdata
#
# For every case it writes
#   hw_<case>_input.csv  one column "y": the series;
#   hw_<case>_params.csv "name,value": period, R's optimised alpha, beta,
#                        gamma, SSE, var(residuals), coefficients a, b, s1..sp;
#   hw_<case>_pred.csv   "h,fit,lwr,upr": predict(fit, 24,
#                        prediction.interval = TRUE, level = 0.95).
# Values are printed with 17 significant digits so that they round-trip.

args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else "."

fmt <- function(v) sprintf("%.17g", v)

write_case <- function(name, x, period) {
  x <- ts(as.numeric(x), frequency = max(period, 1))
  fit <- if (period > 1) HoltWinters(x) else HoltWinters(x, gamma = FALSE)
  gamma <- if (is.logical(fit$gamma)) 0 else fit$gamma
  cf <- fit$coefficients
  s <- if (period > 1) cf[-(1:2)] else numeric(0)
  params <- data.frame(
    name = c("period", "alpha", "beta", "gamma", "sse", "var_residuals", "a", "b",
             if (length(s)) paste0("s", seq_along(s))),
    value = fmt(c(period, fit$alpha, fit$beta, gamma, fit$SSE,
                  var(residuals(fit)), cf["a"], cf["b"], s)))
  pred <- predict(fit, n.ahead = 24, prediction.interval = TRUE, level = 0.95)
  p <- data.frame(h = 1:24, fit = fmt(pred[, "fit"]), lwr = fmt(pred[, "lwr"]),
                  upr = fmt(pred[, "upr"]))
  write.csv(data.frame(y = fmt(as.numeric(x))),
            file.path(out, sprintf("hw_%s_input.csv", name)), row.names = FALSE, quote = FALSE)
  write.csv(params, file.path(out, sprintf("hw_%s_params.csv", name)),
            row.names = FALSE, quote = FALSE)
  write.csv(p, file.path(out, sprintf("hw_%s_pred.csv", name)),
            row.names = FALSE, quote = FALSE)
}

# Mauna Loa CO2, monthly: period 12 with a strong trend.
write_case("co2", co2, 12)
# Box & Jenkins airline passengers, fitted additively as in ?HoltWinters.
write_case("airpassengers", AirPassengers, 12)
# Synthetic hourly series: daily cycle, linear trend, AR(1) noise.
set.seed(42)
n <- 24 * 21
t <- seq_len(n)
syn <- 50 + 0.05 * t + 10 * sin(2 * pi * t / 24) + 4 * cos(4 * pi * t / 24) +
  as.numeric(arima.sim(list(ar = 0.5), n, sd = 1.5))
write_case("synthetic24", syn, 24)
# Non-seasonal: a random walk with drift (Holt's linear trend, gamma = FALSE).
set.seed(7)
write_case("holt", 100 + cumsum(0.3 + rnorm(120)), 0)
# Synthetic 5-minute series, one week (the shape augur fits most): daily
# cycle, slow trend, AR(1) noise and a level shift on day 5.
set.seed(288)
n <- 288 * 7
t <- seq_len(n)
syn <- 40 + 0.002 * t + 15 * sin(2 * pi * t / 288) +
  as.numeric(arima.sim(list(ar = 0.7), n, sd = 1)) + ifelse(t > 288 * 5, 6, 0)
write_case("synthetic288", syn, 288)
