# gen_models.R writes the reference fixtures that model/ar_test.go and
# model/mstl_test.go check augur's AR and MSTL against.
#
# Rerun from the repository root (needs r-base-core and, for mstl,
# r-cran-forecast):
#
#   Rscript model/testdata/gen_models.R model/testdata
#
#   ar_input.csv      "y": hourly synthetic series (daily cycle, AR(1) noise);
#   ar_coef.csv       "term,value": stats::lm of y_t on y_{t-1..t-3} and
#                     y_{t-23}, y_{t-24}, y_{t-25} (ordinary least squares,
#                     the ridge limit λ → 0), plus sigma (summary(fit)$sigma);
#   mstl_input.csv    "y": hourly series with daily and weekly cycles;
#   mstl_output.csv   "trend,s24,s168,remainder": forecast::mstl(msts(y,
#                     seasonal.periods = c(24, 168)), s.window = "periodic").
# Values are printed with 17 significant digits so that they round-trip.

suppressPackageStartupMessages(library(forecast))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else "."
fmt <- function(v) sprintf("%.17g", v)

set.seed(7)
n <- 24 * 30
t <- seq_len(n)
y <- 50 + 10 * sin(2 * pi * t / 24) + 3 * cos(4 * pi * t / 24) +
  as.numeric(arima.sim(list(ar = 0.6), n, sd = 1.5))
lags <- c(1, 2, 3, 23, 24, 25)
X <- sapply(lags, function(l) y[(max(lags) + 1 - l):(n - l)])
colnames(X) <- paste0("lag", lags)
target <- y[(max(lags) + 1):n]
fit <- lm(target ~ X)
cf <- coef(fit)
write.csv(data.frame(y = fmt(y)), file.path(out, "ar_input.csv"), row.names = FALSE, quote = FALSE)
write.csv(data.frame(term = c("intercept", paste0("lag", lags), "sigma"),
                     value = fmt(c(cf, summary(fit)$sigma))),
          file.path(out, "ar_coef.csv"), row.names = FALSE, quote = FALSE)

set.seed(11)
n <- 24 * 7 * 6
t <- seq_len(n)
z <- 100 + 0.01 * t + 8 * sin(2 * pi * t / 24) +
  5 * sin(2 * pi * t / 168) + 4 * (((t - 1) %/% 24) %% 7 >= 5) + rnorm(n, sd = 1)
dec <- mstl(msts(z, seasonal.periods = c(24, 168)), s.window = "periodic")
write.csv(data.frame(y = fmt(z)), file.path(out, "mstl_input.csv"), row.names = FALSE, quote = FALSE)
write.csv(data.frame(trend = fmt(dec[, "Trend"]), s24 = fmt(dec[, "Seasonal24"]),
                     s168 = fmt(dec[, "Seasonal168"]), remainder = fmt(dec[, "Remainder"])),
          file.path(out, "mstl_output.csv"), row.names = FALSE, quote = FALSE)
