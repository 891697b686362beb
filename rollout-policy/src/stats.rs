//! The statistics behind the gates, in `no_std` floating point (`libm`).
//!
//! Why: raw ratios fire on 1 failure in 3 devices and miss a 2% regression in 10,000. Every
//! gate here answers "how sure are we", with an error rate that holds however often `decide`
//! is called:
//!
//! - **Sequential probability ratio** ([`binomial_llr`], [`poisson_llr`]): the log likelihood
//!   ratio of "the candidate fails `ratio` times as often as control" against "as often as
//!   control". Under the null hypothesis the likelihood ratio is a non-negative martingale with
//!   mean 1, so by Ville's inequality it ever reaches `1/alpha` with probability at most
//!   `alpha`, however many looks are taken. Gates abort when it does.
//! - **Exact one-sided binomial test** ([`binomial_upper_tail`]): the per-stage test at stage
//!   end, with the error budget split over the stages.
//! - **Wilson score interval** ([`wilson`]) for an absolute failure-ratio limit, and for the
//!   numbers in every explanation.

/// One-sided standard-normal quantile: the `z` with `P(Z <= z) = p`, for `p` in (0, 1)
/// (Acklam's rational approximation, relative error below 1.2e-9). Returns 0 outside (0, 1).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.02425;
    if !(p > 0.0 && p < 1.0) {
        return 0.0;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail(libm::sqrt(-2.0 * libm::log(p)))
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail(libm::sqrt(-2.0 * libm::log(1.0 - p)))
    }
}

/// The two-sided Wilson score interval `(low, high)` for `x` events in `n` trials, each bound
/// at one-sided confidence `confidence` (e.g. 0.95 uses z = 1.645). `(0, 1)` when `n == 0`.
pub fn wilson(x: u64, n: u64, confidence: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let x = x.min(n) as f64;
    let n = n as f64;
    let z = normal_quantile(confidence);
    let z2 = z * z;
    let denom = n + z2;
    let centre = (x + z2 / 2.0) / denom;
    let half = z * libm::sqrt(x * (n - x) / n + z2 / 4.0) / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Control's failure probability with half an event added (so a control with no failures
/// still gives a usable, slightly conservative null), in (0, 1).
pub fn control_rate(x0: u64, n0: u64) -> f64 {
    (x0.min(n0) as f64 + 0.5) / (n0 as f64 + 1.0)
}

/// Log likelihood ratio of `x` failures in `n` trials under failure probability
/// `min(p0 * ratio, 0.999)` against `p0`.
pub fn binomial_llr(x: u64, n: u64, p0: f64, ratio: f64) -> f64 {
    let x = x.min(n);
    let p0 = p0.clamp(1e-9, 0.999);
    let p1 = (p0 * ratio).clamp(p0, 0.999);
    let fail = libm::log(p1 / p0);
    let pass = libm::log((1.0 - p1) / (1.0 - p0));
    x as f64 * fail + (n - x) as f64 * pass
}

/// Log likelihood ratio of `x` events over exposure `t` under rate `rate0 * ratio` against
/// `rate0` (Poisson).
pub fn poisson_llr(x: u64, t: f64, rate0: f64, ratio: f64) -> f64 {
    let rate0 = rate0.max(1e-12);
    x as f64 * libm::log(ratio) - (ratio - 1.0) * rate0 * t
}

/// `P(X >= x)` for `X ~ Binomial(n, p)`: the one-sided p-value of `x` failures in `n` trials
/// against failure probability `p`. Sums probability terms from the side that converges
/// (bounded: at most 100,000 terms, beyond which the remainder is below 1e-300).
pub fn binomial_upper_tail(x: u64, n: u64, p: f64) -> f64 {
    if x == 0 {
        return 1.0;
    }
    if x > n {
        return 0.0;
    }
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let (nf, q) = (n as f64, 1.0 - p);
    let ln_pmf = |k: u64| {
        let k = k as f64;
        libm::lgamma(nf + 1.0) - libm::lgamma(k + 1.0) - libm::lgamma(nf - k + 1.0)
            + k * libm::log(p)
            + (nf - k) * libm::log(q)
    };
    const MAX_TERMS: u32 = 100_000;
    if x as f64 > nf * p {
        // Upper tail, terms decrease away from the mode.
        let mut term = libm::exp(ln_pmf(x));
        let (mut sum, mut k, mut steps) = (0.0, x, 0u32);
        while k <= n && steps < MAX_TERMS {
            sum += term;
            if term <= sum * 1e-17 {
                break;
            }
            term *= (nf - k as f64) / (k as f64 + 1.0) * (p / q);
            k += 1;
            steps += 1;
        }
        sum.min(1.0)
    } else {
        // 1 - P(X <= x - 1), summing downwards from x - 1.
        let mut k = x - 1;
        let mut term = libm::exp(ln_pmf(k));
        let (mut sum, mut steps) = (0.0, 0u32);
        loop {
            sum += term;
            if k == 0 || term <= sum * 1e-17 || steps >= MAX_TERMS {
                break;
            }
            term *= k as f64 / (nf - k as f64 + 1.0) * (q / p);
            k -= 1;
            steps += 1;
        }
        (1.0 - sum).clamp(0.0, 1.0)
    }
}

/// One-sided p-value that the candidate (`x1` failures in `n1` trials) fails more often than
/// control (`x0` in `n0`), conditional on the total failures: for rare failures each failure is
/// the candidate's with probability `n1 / (n1 + n0)` under equal rates, so the p-value is
/// `P(Binomial(x1 + x0, n1 / (n1 + n0)) >= x1)`. Unlike a test against a fixed rate, it accounts
/// for the noise in control's own estimate. 1 when either side has no trials.
pub fn conditional_upper_tail(x1: u64, n1: u64, x0: u64, n0: u64) -> f64 {
    if n1 == 0 || n0 == 0 {
        return 1.0;
    }
    let share = n1 as f64 / (n1 as f64 + n0 as f64);
    binomial_upper_tail(x1.min(n1), x1.min(n1) + x0.min(n0), share)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn normal_quantiles() {
        assert!(close(normal_quantile(0.975), 1.959_963_985, 1e-8));
        assert!(close(normal_quantile(0.95), 1.644_853_627, 1e-8));
        assert!(close(normal_quantile(0.01), -2.326_347_874, 1e-8));
        assert!(close(normal_quantile(0.999), 3.090_232_306, 1e-7));
        assert_eq!(normal_quantile(1.0), 0.0);
    }

    #[test]
    fn wilson_known_values() {
        // 1 failure in 3 devices: the interval is wide, nothing to conclude.
        let (lo, hi) = wilson(1, 3, 0.975);
        assert!(
            close(lo, 0.0608, 1e-3) && close(hi, 0.7923, 1e-3),
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 100, 0.975);
        assert_eq!(lo, 0.0);
        assert!(close(hi, 0.0370, 1e-3));
        let (lo, hi) = wilson(100, 100, 0.975);
        assert!(close(lo, 0.9630, 1e-3) && close(hi, 1.0, 1e-12));
        assert_eq!(wilson(0, 0, 0.95), (0.0, 1.0));
    }

    #[test]
    fn binomial_tail_known_values() {
        // P(Bin(10, 0.5) >= 8) = 56/1024.
        assert!(close(binomial_upper_tail(8, 10, 0.5), 56.0 / 1024.0, 1e-12));
        // P(Bin(10, 0.5) >= 3) = 1 - 56/1024.
        assert!(close(
            binomial_upper_tail(3, 10, 0.5),
            1.0 - 56.0 / 1024.0,
            1e-12
        ));
        assert_eq!(binomial_upper_tail(0, 10, 0.1), 1.0);
        assert_eq!(binomial_upper_tail(11, 10, 0.1), 0.0);
        // P(Bin(100, 0.005) >= 3) = 0.014_10...
        assert!(close(binomial_upper_tail(3, 100, 0.005), 0.014_102_9, 1e-6));
        // All failures in a large stage: vanishingly small, never NaN.
        let p = binomial_upper_tail(100_000, 100_000, 0.005);
        assert!((0.0..1e-300).contains(&p));
    }

    #[test]
    fn conditional_test() {
        // Equal samples, 10 vs 0 failures: P(Bin(10, 1/2) >= 10) = 1/1024.
        assert!(close(
            conditional_upper_tail(10, 1_000, 0, 1_000),
            1.0 / 1024.0,
            1e-12
        ));
        assert_eq!(conditional_upper_tail(0, 1_000, 5, 1_000), 1.0);
        assert_eq!(conditional_upper_tail(3, 0, 5, 1_000), 1.0);
        assert!(conditional_upper_tail(5, 1_000, 500, 100_000) > 0.3);
    }

    #[test]
    fn llr_signs() {
        assert!(binomial_llr(0, 1000, 0.005, 3.0) < 0.0);
        assert!(binomial_llr(20, 1000, 0.005, 3.0) > 5.0);
        assert_eq!(binomial_llr(0, 0, 0.005, 3.0), 0.0);
        assert!(poisson_llr(0, 1000.0, 0.001, 2.0) < 0.0);
        assert!(poisson_llr(10, 1000.0, 0.001, 2.0) > 0.0);
    }
}
