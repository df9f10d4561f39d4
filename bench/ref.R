# ref.R is R's side of bench/run.sh: for each series, stats::HoltWinters
# (additive, frequency 288) fitted on the first 2016 points and predict()ed
# 288 ahead, timed (mean of REPS runs: proc.time() ticks in milliseconds) and scored by MASE (naive in-sample
# scale, as bench/hwbench).
#
#   Rscript bench/ref.R REPS FILE... > r.csv
args <- commandArgs(trailingOnly = TRUE)
reps <- as.integer(args[1])
cat("series,r_ms,r_mase\n")
for (f in args[-1]) {
  y <- read.csv(f)$value
  train <- y[1:2016]
  test <- y[2017:(2016 + 288)]
  t0 <- proc.time()[["elapsed"]]
  for (r in seq_len(reps)) {
    fit <- HoltWinters(ts(train, frequency = 288))
    p <- predict(fit, n.ahead = 288)
  }
  ms <- 1000 * (proc.time()[["elapsed"]] - t0) / reps
  m <- mean(abs(test - as.numeric(p))) / mean(abs(diff(train)))
  cat(sprintf("%s,%.3f,%.6f\n", basename(f), ms, m))
}
