# nab_r.R scores R's forecasters on NAB-style CSV files with the protocol of
# `augur backtest` (cmd/augur/backtest.go), so that the two can be compared
# file by file:
#
#   Rscript bench/nab_r.R HOLDOUT LEAD_SECONDS ROOT FILE... > r.csv
#
# For each file (timestamp,value): step = median spacing, period m = one day
# in steps, h = max(1, round(LEAD_SECONDS / step)); the last floor(HOLDOUT*n)
# points are held out. Each model is fitted on the rest and run through the
# held-out points with its parameters fixed: at every held-out point the
# one-step forecast is scored, and the forecast made h-1 points earlier of
# points h-1 or more into the holdout. MASE divides by the mean absolute
# lag-1 difference of the training part.
#
#   hw     stats::HoltWinters, additive, frequency m (gamma = FALSE when the
#          training part holds fewer than two days or the fit fails);
#   ets    forecast::ets with automatic model choice, frequency m (ets itself
#          drops the season when m > 24), then ets(model = fit) on the whole
#          series; forecasts from its state vectors (pegelsfcast's formula);
#   snaive seasonal naive with period m.
#
# Prints series,h,n_test,<model>_mase_1,<model>_mase_h,...,hw_fit_ms,ets_fit_ms.

suppressPackageStartupMessages(library(forecast))
args <- commandArgs(trailingOnly = TRUE)
holdout <- as.numeric(args[1])
lead <- as.numeric(args[2])
root <- args[3]
files <- args[-(1:3)]

mase <- function(test, p1, ph, h, scale) {
  n <- length(test)
  idx <- seq_len(n)
  okh <- idx + h - 1 <= n
  c(mean(abs(test - p1), na.rm = TRUE) / scale,
    mean(abs(test[(idx + h - 1)[okh]] - ph[okh]), na.rm = TRUE) / scale)
}

# hw_run filters the held-out points through a fitted HoltWinters with its
# parameters fixed (the recursions of R's C_HoltWinters).
hw_run <- function(fit, test, h, m) {
  a <- fit$coefficients[["a"]]
  b <- if (isFALSE(fit$beta)) 0 else fit$coefficients[["b"]]
  seasonal <- !isFALSE(fit$gamma)
  s <- if (seasonal) as.numeric(fit$coefficients[-(1:2)]) else numeric(0)
  alpha <- fit$alpha
  beta <- if (isFALSE(fit$beta)) 0 else fit$beta
  gamma <- if (seasonal) fit$gamma else 0
  n <- length(test)
  p1 <- ph <- numeric(n)
  for (i in seq_len(n)) {
    so <- if (seasonal) s[1] else 0
    p1[i] <- a + b + so
    ph[i] <- a + h * b + (if (seasonal) s[(h - 1) %% length(s) + 1] else 0)
    y <- test[i]
    if (is.na(y)) y <- p1[i]
    an <- alpha * (y - so) + (1 - alpha) * (a + b)
    b <- beta * (an - a) + (1 - beta) * b
    a <- an
    if (seasonal) s <- c(s[-1], gamma * (y - a) + (1 - gamma) * so)
  }
  list(p1 = p1, ph = ph)
}

# ets_point is the h-step point forecast from one ets state row x (l, b,
# s1..sm with s1 the newest season), as forecast:::pegelsfcast.C.
ets_point <- function(x, comps, phi, m, h) {
  l <- x[1]; k <- 2
  f <- l
  if (comps[2] != "N") {
    b <- x[2]; k <- 3
    ph <- if (is.null(phi) || is.na(phi)) h else sum(phi^(1:h))
    f <- if (comps[2] == "A") l + ph * b else l * b^ph
  }
  if (comps[3] != "N") {
    j <- m - ((h - 1) %% m)
    s <- x[k + j - 1]
    f <- if (comps[3] == "A") f + s else f * s
  }
  f
}

cat("series,h,n_test,hw_mase_1,hw_mase_h,ets_mase_1,ets_mase_h,snaive_mase_1,snaive_mase_h,ets_model,hw_fit_ms,ets_fit_ms\n")
for (f in files) {
  d <- read.csv(f)
  tt <- as.numeric(as.POSIXct(d$timestamp, tz = "UTC", format = "%Y-%m-%d %H:%M:%S"))
  y <- as.numeric(d$value)
  step <- median(diff(tt))
  m <- max(1, round(86400 / step))
  h <- max(1, round(lead / step))
  n <- length(y)
  ntest <- floor(holdout * n)
  ntrain <- n - ntest
  train <- y[1:ntrain]
  test <- y[(ntrain + 1):n]
  scale <- mean(abs(diff(train)), na.rm = TRUE)
  if (!(scale > 0)) scale <- 1

  # Seasonal naive: y[t-m] one step ahead, y[t+h-1-m*ceil(h/m)] h ahead.
  gi <- ntrain + seq_len(ntest)
  sn1 <- y[gi - m]
  snh <- y[gi + h - 1 - m * ceiling(h / m)]
  r_sn <- mase(test, sn1, snh, h, scale)

  t0 <- proc.time()[["elapsed"]]
  fit <- NULL
  if (ntrain >= 2 * m && m > 1) {
    fit <- tryCatch(HoltWinters(ts(train, frequency = m)), error = function(e) NULL)
  }
  if (is.null(fit)) {
    fit <- tryCatch(HoltWinters(ts(train), gamma = FALSE),
                    error = function(e) HoltWinters(ts(train), gamma = FALSE, beta = FALSE))
  }
  hw_ms <- 1000 * (proc.time()[["elapsed"]] - t0)
  r <- hw_run(fit, test, h, m)
  r_hw <- mase(test, r$p1, r$ph, h, scale)

  t0 <- proc.time()[["elapsed"]]
  efit <- suppressWarnings(ets(ts(train, frequency = m)))
  ets_ms <- 1000 * (proc.time()[["elapsed"]] - t0)
  all <- suppressWarnings(ets(ts(y, frequency = m), model = efit, use.initial.values = TRUE))
  comps <- efit$components
  em <- if (comps[3] != "N") m else 1
  st <- all$states # row t+1 is the state after observing y[t]
  e1 <- as.numeric(fitted(all))[gi]
  eh <- sapply(seq_len(ntest), function(i) ets_point(st[gi[i], ], comps, efit$par["phi"], em, h))
  r_ets <- mase(test, e1, eh, h, scale)

  name <- sub(paste0("^", normalizePath(root), "/"), "", normalizePath(f))
  cat(sprintf("%s,%d,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%s,%.1f,%.1f\n", name, h, ntest,
              r_hw[1], r_hw[2], r_ets[1], r_ets[2], r_sn[1], r_sn[2],
              gsub(",", "", efit$method), hw_ms, ets_ms))
}
