//! Component obsolescence: which parts are going extinct, and how many to buy before they do.
//!
//! A part's supplier announces not recommended for new designs (NRND), then a last-time-buy
//! (LTB) date, then obsolescence. After that, every remaining build and every warranty repair
//! comes out of stock. [`last_time_buy`] sizes the final order:
//!
//! ```text
//! production    = sum over products of remaining_builds x parts_per_unit
//! lambda        = sum over products of installed_base x annual_failure_rate
//!                   x remaining_warranty_years x parts_per_unit
//! replacements  = smallest k with P(Poisson(lambda) <= k) >= confidence
//! gross         = ceil((production + replacements) / (1 - storage_loss))
//! order         = max(gross - stock, 0), rounded up to the reel or tray size
//! ```
//!
//! Field failures in a period are counted as Poisson; the bound is exact for that model
//! (summed in log space, so large `lambda` neither underflows nor loops long). With several
//! parts per unit, one failed unit takes several parts at once, so the true spread is somewhat
//! wider than Poisson on parts; choose the confidence with that in mind.
//!
//! [`risk_report`] lists the parts that threaten production or repairs, worst first.

extern crate std;

use core::fmt;
use std::string::String;
use std::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::date::Day;

/// Where a part is in its supplier's lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartStatus {
    /// In production.
    Active,
    /// Not recommended for new designs.
    Nrnd,
    /// Last-time-buy announced: orders close at the end of `order_by`.
    LastTimeBuy {
        /// The last order day.
        order_by: Day,
    },
    /// No longer made; only stock is left.
    Obsolete,
}

/// A product's use of a part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartUse {
    /// The product name.
    pub product: String,
    /// Parts per unit built.
    pub per_unit: u32,
}

/// A component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Manufacturer part number.
    pub mpn: String,
    /// Lifecycle status.
    pub status: PartStatus,
    /// Parts in stock.
    pub stock: u64,
    /// Order multiple (reel or tray size); 0 or 1 means any quantity.
    pub order_multiple: u64,
    /// Products using it.
    pub used_in: Vec<PartUse>,
}

/// A product's remaining demand.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProductPlan {
    /// The product name (matches [`PartUse::product`]).
    pub name: String,
    /// Units still to build.
    pub remaining_builds: u64,
    /// Units in the field under warranty.
    pub installed_base: u64,
    /// Fraction of units failing per year (0.02 = 2 %).
    pub annual_failure_rate: f64,
    /// Years of warranty left, averaged over the installed base.
    pub remaining_warranty_years: f64,
}

/// How conservatively to size the order.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LtbSettings {
    /// Probability that replacements are covered (0.95 = 95 %).
    pub confidence: f64,
    /// Fraction of stock lost in storage (damage, moisture, solderability): 0.02 = 2 %.
    pub storage_loss: f64,
}

/// A sized last-time-buy order, with its parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LtbQuantity {
    /// Parts for remaining builds.
    pub production: u64,
    /// Expected warranty replacements (the Poisson mean).
    pub expected_replacements: f64,
    /// Replacements covered at the chosen confidence.
    pub replacements: u64,
    /// Parts needed before storage losses.
    pub net_need: u64,
    /// Parts needed including storage losses.
    pub gross_need: u64,
    /// Parts in stock.
    pub stock: u64,
    /// Parts to order, rounded up to the order multiple (0 when stock covers the need).
    pub order: u64,
}

/// Why sizing failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ObsolescenceError {
    /// Confidence outside (0, 1).
    #[error("confidence {0} must be greater than 0 and less than 1")]
    Confidence(f64),
    /// Storage loss outside [0, 1).
    #[error("storage loss {0} must be at least 0 and less than 1")]
    StorageLoss(f64),
    /// A negative, non-finite or absurd demand figure.
    #[error("product {product}: {what} is {value}, expected a finite value >= 0")]
    BadFigure {
        /// Product.
        product: String,
        /// Field.
        what: &'static str,
        /// Value.
        value: f64,
    },
    /// The expected replacements exceed what the bound is computed for.
    #[error("expected replacements {0} exceed the supported 1e12")]
    TooLarge(f64),
}

/// Largest Poisson mean accepted.
const MAX_LAMBDA: f64 = 1e12;

/// Smallest `k` with `P(Poisson(lambda) <= k) >= confidence`.
pub fn poisson_quantile(lambda: f64, confidence: f64) -> Result<u64, ObsolescenceError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(ObsolescenceError::Confidence(confidence));
    }
    if !lambda.is_finite() || lambda < 0.0 {
        return Err(ObsolescenceError::BadFigure {
            product: String::from("(all)"),
            what: "expected replacements",
            value: lambda,
        });
    }
    if lambda > MAX_LAMBDA {
        return Err(ObsolescenceError::TooLarge(lambda));
    }
    if lambda == 0.0 {
        return Ok(0);
    }
    // Mass below mean - 12 sd is below 1e-30, far under any confidence step: start there.
    let start = (lambda - 12.0 * lambda.sqrt() - 10.0).max(0.0).floor();
    let ln_lambda = lambda.ln();
    let mut k = start;
    let mut cdf = 0.0;
    loop {
        let ln_pmf = -lambda + k * ln_lambda - libm::lgamma(k + 1.0);
        cdf += ln_pmf.exp();
        // Past mean + 40 sd the remaining mass is negligible: stop there whatever rounding did.
        if cdf >= confidence || k > lambda + 40.0 * lambda.sqrt() + 10.0 {
            // k is a non-negative integer below 2^53.
            return Ok(k as u64);
        }
        k += 1.0;
    }
}

fn figure(product: &str, what: &'static str, value: f64) -> Result<f64, ObsolescenceError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(ObsolescenceError::BadFigure {
            product: product.into(),
            what,
            value,
        })
    }
}

/// Sizes the last-time-buy order for `part` given the products' remaining demand.
pub fn last_time_buy(
    part: &Part,
    products: &[ProductPlan],
    settings: LtbSettings,
) -> Result<LtbQuantity, ObsolescenceError> {
    if !(settings.storage_loss >= 0.0 && settings.storage_loss < 1.0) {
        return Err(ObsolescenceError::StorageLoss(settings.storage_loss));
    }
    let mut production: u64 = 0;
    let mut lambda = 0.0;
    for u in &part.used_in {
        let Some(p) = products.iter().find(|p| p.name == u.product) else {
            continue;
        };
        let per = u64::from(u.per_unit);
        production = production.saturating_add(p.remaining_builds.saturating_mul(per));
        let afr = figure(&p.name, "annual failure rate", p.annual_failure_rate)?;
        let years = figure(
            &p.name,
            "remaining warranty years",
            p.remaining_warranty_years,
        )?;
        lambda += p.installed_base as f64 * afr * years * f64::from(u.per_unit);
    }
    let replacements = poisson_quantile(lambda, settings.confidence)?;
    let net_need = production.saturating_add(replacements);
    let gross = (net_need as f64 / (1.0 - settings.storage_loss)).ceil();
    let gross_need = if gross >= u64::MAX as f64 {
        u64::MAX
    } else {
        gross as u64
    };
    let short = gross_need.saturating_sub(part.stock);
    let m = part.order_multiple.max(1);
    let order = short.div_ceil(m).saturating_mul(m);
    Ok(LtbQuantity {
        production,
        expected_replacements: lambda,
        replacements,
        net_need,
        gross_need,
        stock: part.stock,
        order,
    })
}

/// How bad a part's situation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RiskLevel {
    /// NRND: plan a redesign or second source.
    Watch,
    /// Last-time-buy window open: order now.
    Act,
    /// The window closes within 90 days, or has closed / the part is obsolete and stock
    /// does not cover the need.
    Critical,
}

/// One part in the risk report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RiskItem {
    /// Part number.
    pub mpn: String,
    /// Status.
    pub status: PartStatus,
    /// Level.
    pub level: RiskLevel,
    /// Products that use it.
    pub products: Vec<String>,
    /// Remaining builds need it.
    pub threatens_production: bool,
    /// Warranty repairs need it.
    pub threatens_repairs: bool,
    /// The sized order (what is still to buy, or the shortfall when it can no longer be bought).
    pub ltb: LtbQuantity,
}

impl fmt::Display for RiskItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.status {
            PartStatus::Active => String::from("active"),
            PartStatus::Nrnd => String::from("NRND"),
            PartStatus::LastTimeBuy { order_by } => std::format!("last-time-buy by {order_by}"),
            PartStatus::Obsolete => String::from("obsolete"),
        };
        let threat = match (self.threatens_production, self.threatens_repairs) {
            (true, true) => "production and repairs",
            (true, false) => "production",
            (false, true) => "repairs",
            (false, false) => "nothing planned",
        };
        write!(
            f,
            "{:?}: {} ({status}) used in {}; threatens {threat}; need {} incl. storage loss, stock {}, {} {}",
            self.level,
            self.mpn,
            self.products.join(", "),
            self.ltb.gross_need,
            self.ltb.stock,
            if matches!(self.status, PartStatus::Obsolete) {
                "shortfall"
            } else {
                "order"
            },
            self.ltb.order
        )
    }
}

/// Parts that threaten production or repairs on `today`, worst first. Active parts and parts
/// no planned product needs are left out.
pub fn risk_report(
    parts: &[Part],
    products: &[ProductPlan],
    settings: LtbSettings,
    today: Day,
) -> Result<Vec<RiskItem>, ObsolescenceError> {
    let mut out = Vec::new();
    for part in parts {
        if part.status == PartStatus::Active {
            continue;
        }
        let ltb = last_time_buy(part, products, settings)?;
        let users: Vec<&ProductPlan> = part
            .used_in
            .iter()
            .filter_map(|u| products.iter().find(|p| p.name == u.product))
            .collect();
        let threatens_production = users.iter().any(|p| p.remaining_builds > 0);
        let threatens_repairs = ltb.expected_replacements > 0.0;
        if !threatens_production && !threatens_repairs {
            continue;
        }
        let level = match part.status {
            PartStatus::Active | PartStatus::Nrnd => RiskLevel::Watch,
            PartStatus::LastTimeBuy { order_by } if today.days_until(order_by) < 90 => {
                RiskLevel::Critical
            }
            PartStatus::LastTimeBuy { .. } => RiskLevel::Act,
            PartStatus::Obsolete if ltb.order > 0 => RiskLevel::Critical,
            PartStatus::Obsolete => RiskLevel::Watch,
        };
        out.push(RiskItem {
            mpn: part.mpn.clone(),
            status: part.status,
            level,
            products: users.iter().map(|p| p.name.clone()).collect(),
            threatens_production,
            threatens_repairs,
            ltb,
        });
    }
    out.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| a.mpn.cmp(&b.mpn)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_quantiles_match_tables() {
        assert_eq!(poisson_quantile(0.0, 0.95).unwrap(), 0);
        // P(X<=2 | 1) = 0.9197, P(X<=3 | 1) = 0.9810.
        assert_eq!(poisson_quantile(1.0, 0.95).unwrap(), 3);
        assert_eq!(poisson_quantile(1.0, 0.90).unwrap(), 2);
        // P(X<=14 | 10) = 0.9165, P(X<=15 | 10) = 0.9513.
        assert_eq!(poisson_quantile(10.0, 0.95).unwrap(), 15);
        // Normal approximation: 10000 + 1.645 * 100 ~ 10165.
        let big = poisson_quantile(10_000.0, 0.95).unwrap();
        assert!((10_163..=10_167).contains(&big), "{big}");
        // No underflow or long loop for huge means.
        let huge = poisson_quantile(1e10, 0.5).unwrap();
        assert!((1e10 - 2.0..=1e10 + 2.0).contains(&(huge as f64)), "{huge}");
        assert!(poisson_quantile(5.0, 1.0).is_err());
        assert!(poisson_quantile(-1.0, 0.9).is_err());
        assert!(poisson_quantile(f64::NAN, 0.9).is_err());
    }

    fn plan() -> Vec<ProductPlan> {
        vec![ProductPlan {
            name: "thermo".into(),
            remaining_builds: 1_000,
            installed_base: 50_000,
            annual_failure_rate: 0.004,
            remaining_warranty_years: 0.5,
        }]
    }

    fn part(status: PartStatus, stock: u64) -> Part {
        Part {
            mpn: "MCU-123".into(),
            status,
            stock,
            order_multiple: 250,
            used_in: vec![PartUse {
                product: "thermo".into(),
                per_unit: 1,
            }],
        }
    }

    #[test]
    fn ltb_quantity_worked_example() {
        let s = LtbSettings {
            confidence: 0.95,
            storage_loss: 0.02,
        };
        let q = last_time_buy(&part(PartStatus::Obsolete, 300), &plan(), s).unwrap();
        // lambda = 50_000 * 0.004 * 0.5 = 100; 95 % Poisson bound = 117.
        assert_eq!(q.production, 1_000);
        assert!((q.expected_replacements - 100.0).abs() < 1e-9);
        assert_eq!(q.replacements, 117);
        assert_eq!(q.net_need, 1_117);
        // ceil(1117 / 0.98) = 1140; minus 300 stock = 840; reels of 250 -> 1000.
        assert_eq!(q.gross_need, 1_140);
        assert_eq!(q.order, 1_000);
        // Enough stock: no order.
        let q = last_time_buy(&part(PartStatus::Obsolete, 2_000), &plan(), s).unwrap();
        assert_eq!(q.order, 0);
    }

    #[test]
    fn ltb_rejects_bad_settings() {
        let p = part(PartStatus::Nrnd, 0);
        assert!(
            last_time_buy(
                &p,
                &plan(),
                LtbSettings {
                    confidence: 0.95,
                    storage_loss: 1.0
                }
            )
            .is_err()
        );
        let mut bad = plan();
        bad[0].annual_failure_rate = -0.1;
        let err = last_time_buy(
            &p,
            &bad,
            LtbSettings {
                confidence: 0.95,
                storage_loss: 0.0,
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "product thermo: annual failure rate is -0.1, expected a finite value >= 0"
        );
    }

    #[test]
    fn risk_report_orders_worst_first() {
        let today = Day::from_ymd(2030, 1, 1).unwrap();
        let s = LtbSettings {
            confidence: 0.95,
            storage_loss: 0.0,
        };
        let mut parts = vec![
            Part {
                mpn: "A-active".into(),
                ..part(PartStatus::Active, 0)
            },
            Part {
                mpn: "B-nrnd".into(),
                ..part(PartStatus::Nrnd, 0)
            },
            Part {
                mpn: "C-ltb-soon".into(),
                ..part(
                    PartStatus::LastTimeBuy {
                        order_by: Day::from_ymd(2030, 2, 1).unwrap(),
                    },
                    0,
                )
            },
            Part {
                mpn: "D-ltb-later".into(),
                ..part(
                    PartStatus::LastTimeBuy {
                        order_by: Day::from_ymd(2031, 1, 1).unwrap(),
                    },
                    0,
                )
            },
            Part {
                mpn: "E-obsolete-covered".into(),
                ..part(PartStatus::Obsolete, 5_000)
            },
        ];
        parts.push(Part {
            mpn: "F-unused".into(),
            used_in: vec![PartUse {
                product: "retired".into(),
                per_unit: 2,
            }],
            ..part(PartStatus::Obsolete, 0)
        });
        let report = risk_report(&parts, &plan(), s, today).unwrap();
        let names: Vec<_> = report.iter().map(|r| (r.mpn.as_str(), r.level)).collect();
        assert_eq!(
            names,
            vec![
                ("C-ltb-soon", RiskLevel::Critical),
                ("D-ltb-later", RiskLevel::Act),
                ("B-nrnd", RiskLevel::Watch),
                ("E-obsolete-covered", RiskLevel::Watch),
            ]
        );
        assert!(report[0].threatens_production && report[0].threatens_repairs);
        assert!(
            report[0]
                .to_string()
                .starts_with("Critical: C-ltb-soon (last-time-buy by 2030-02-01) used in thermo")
        );
    }
}
