# forecast_r.R is R's side of bench/forecast.sh: for every CSV file of IN
# (timestamp,value) it fits stats::HoltWinters (additive, frequency 288),
# forecasts H steps and writes OUT/<file> (timestamp,forecast). It writes no
# intervals, unlike `augur forecast`: predict.HoltWinters' interval code
# takes 0.5 s of CPU per series at H = 288, five times the fit, and would
# make the comparison flatter augur; without it R's side is bench/ref.R's.
#
#   Rscript bench/forecast_r.R IN OUT H
args <- commandArgs(trailingOnly = TRUE)
out <- args[2]
h <- as.integer(args[3])
dir.create(out, showWarnings = FALSE)
for (f in sort(list.files(args[1], pattern = "\\.csv$", full.names = TRUE))) {
  d <- read.csv(f)
  fit <- HoltWinters(ts(d$value, frequency = 288))
  p <- predict(fit, n.ahead = h)
  last <- as.POSIXct(d$timestamp[nrow(d)], tz = "UTC")
  step <- as.numeric(difftime(last, as.POSIXct(d$timestamp[nrow(d) - 1], tz = "UTC"), units = "secs"))
  ts <- format(last + step * seq_len(h), "%Y-%m-%d %H:%M:%S", tz = "UTC")
  write.csv(data.frame(timestamp = ts, forecast = as.numeric(p)), file.path(out, basename(f)),
            row.names = FALSE, quote = FALSE)
}
