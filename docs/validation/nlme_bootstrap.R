# Independent check of the bootstrap's variance-component medians
# (docs/evaluation.md): a case bootstrap of the theophylline data with
# R's nlme (maximum likelihood, Lindstrom-Bates, about FOCE), on the same
# one-compartment oral model with log-normal CL, V and KA and additive
# error. Resampled subjects get new IDs, as in `mido bootstrap`.
#
#   Rscript docs/validation/nlme_bootstrap.R [REPLICATES]
#
# Needs r-base-core and r-cran-nlme (Debian). The data is R's `Theoph`, the
# same 12 subjects as examples/theophylline/theoph_nm.csv.
args <- commandArgs(trailingOnly = TRUE)
replicates <- if (length(args) > 0) as.integer(args[1]) else 200L
suppressMessages(library(nlme))
d <- as.data.frame(Theoph)
d$dose <- d$Dose * d$Wt
d$id <- as.integer(as.character(d$Subject))
f1 <- function(dose, t, lcl, lv, lka) {
  cl <- exp(lcl); v <- exp(lv); ka <- exp(lka); k <- cl / v
  dose * ka / (v * (ka - k)) * (exp(-k * t) - exp(-ka * t))
}
fitone <- function(dd, start) {
  dd <- groupedData(conc ~ Time | id, data = dd)
  nlme(conc ~ f1(dose, Time, lcl, lv, lka), data = dd,
       fixed = lcl + lv + lka ~ 1, random = pdDiag(lcl + lv + lka ~ 1),
       start = start, method = "ML",
       control = nlmeControl(maxIter = 200, msMaxIter = 200, pnlsMaxIter = 50, returnObject = FALSE))
}
start <- c(lcl = log(2.75), lv = log(31.8), lka = log(1.59))
orig <- fitone(d, start)
vc <- function(m) as.numeric(VarCorr(m)[1:3, 1])
ov <- vc(orig); of <- fixef(orig)
cat("original fixef", exp(of), "omega", ov, "sigma^2", orig$sigma^2, "\n")
set.seed(20261126)
ids <- unique(d$id)
res <- list()
for (r in 1:replicates) {
  pick <- sample(ids, length(ids), replace = TRUE)
  dd <- do.call(rbind, lapply(seq_along(pick), function(j) { x <- d[d$id == pick[j], ]; x$id <- j; x }))
  m <- tryCatch(fitone(dd, of), error = function(e) NULL)
  if (!is.null(m)) res[[length(res) + 1]] <- c(exp(fixef(m)), vc(m), m$sigma^2)
}
M <- do.call(rbind, res)
cat("converged", nrow(M), "of", replicates, "\n")
orig_all <- c(exp(of), ov, orig$sigma^2)
med <- apply(M, 2, median)
names(med) <- c("CL", "V", "KA", "om_CL", "om_V", "om_KA", "sigma2")
print(round(rbind(original = orig_all, median = med, bias_pct = 100 * (med / orig_all - 1)), 4))
