//! Size budgets: a limit, the knob that set it, and the verdict.

use serde::Serialize;

use crate::SizeError;
use crate::render::human_bytes;

/// A limit in bytes, and the setting it came from (named in every message,
/// so whoever hits it knows what to change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Budget {
    pub limit: u64,
    pub knob: String,
}

/// One subject measured against a budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetCheck {
    /// `linux/arm64 image` or `linux_arm64/hello`.
    pub subject: String,
    pub size: u64,
    pub budget: u64,
    /// `budget - size`; negative when over.
    pub headroom: i64,
    pub knob: String,
    pub over: bool,
    /// The largest parts of `size`, for the message when over.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<crate::Row>,
}

pub fn check_budget(
    subject: impl Into<String>,
    size: u64,
    budget: &Budget,
    top: Vec<crate::Row>,
) -> BudgetCheck {
    let headroom = i128::from(budget.limit) - i128::from(size);
    BudgetCheck {
        subject: subject.into(),
        size,
        budget: budget.limit,
        headroom: headroom.clamp(i64::MIN.into(), i64::MAX.into()) as i64,
        knob: budget.knob.clone(),
        over: size > budget.limit,
        top,
    }
}

/// The failure message for the checks that are over, `None` when all fit.
pub fn over_budget_message(checks: &[BudgetCheck]) -> Option<SizeError> {
    let over: Vec<&BudgetCheck> = checks.iter().filter(|c| c.over).collect();
    if over.is_empty() {
        return None;
    }
    let mut msg = String::new();
    for c in &over {
        msg.push_str(&format!(
            "{} is {} ({} bytes), over its budget of {} by {} bytes (the budget is set by {}; shrink it, or raise the budget there)\n  top contributors:\n",
            c.subject,
            human_bytes(c.size),
            c.size,
            human_bytes(c.budget),
            c.size - c.budget,
            c.knob
        ));
        for r in c.top.iter().take(8) {
            msg.push_str(&format!("    {:>10}  {}\n", human_bytes(r.size), r.name));
        }
    }
    msg.push_str("nothing was written");
    Some(SizeError::OverBudget(msg))
}

/// A size: bytes (`1048576`), or a number with a unit: `KiB`, `MiB`, `GiB`,
/// `TiB` (powers of 1024; `K`, `M`, `G`, `T` alone mean the same, as in
/// `ulimit` and `docker`), or `kB`, `MB`, `GB`, `TB` (powers of 1000);
/// `12MiB`, `1.5 MiB`, `512K`. slipway's one size parser: budgets,
/// `musl_thread_stack`, `cache prune --max-size`.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let bad = || {
        SizeError::Input(format!(
            "{text:?} is not a size: write bytes (1048576) or a number with a unit, such as \"12MiB\", \"512KiB\", \"1.5MiB\" or \"8MB\""
        ))
    };
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" | "m" => 1 << 20,
        "GiB" | "G" | "g" => 1 << 30,
        "TiB" | "T" | "t" => 1 << 40,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    if number.is_empty() || number.matches('.').count() > 1 {
        return Err(bad());
    }
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let mut value = whole.checked_mul(scale).ok_or_else(bad)?;
    if !frac.is_empty() {
        // Exact decimal arithmetic on the fraction, rounded down to a byte.
        let digits = frac.len().min(12) as u32;
        let f: u64 = frac[..digits as usize].parse().map_err(|_| bad())?;
        let extra = u128::from(f) * u128::from(scale) / 10u128.pow(digits);
        value = value
            .checked_add(u64::try_from(extra).map_err(|_| bad())?)
            .ok_or_else(bad)?;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (t, want) in [
            ("12MiB", 12 << 20),
            ("8 MiB", 8 << 20),
            ("1.5MiB", 3 << 19),
            ("512KiB", 512 << 10),
            ("8MB", 8_000_000),
            ("100", 100),
            ("100B", 100),
            ("0.5GiB", 1 << 29),
            // The unit letters alone are powers of 1024, as musl_thread_stack
            // and cache prune --max-size took them before they shared this.
            ("512K", 512 << 10),
            ("512k", 512 << 10),
            ("2M", 2 << 20),
            ("1.5G", 3 << 29),
            ("2TiB", 2 << 40),
            ("3TB", 3_000_000_000_000),
        ] {
            assert_eq!(parse_size(t).unwrap(), want, "{t}");
        }
        for bad in [
            "",
            "MiB",
            "12 mb",
            "1.2.3MiB",
            "-1",
            "99999999999999999999GiB",
            "x",
        ] {
            let e = parse_size(bad).unwrap_err().to_string();
            assert!(e.contains("is not a size"), "{bad}: {e}");
        }
    }

    #[test]
    fn verdicts_and_messages() {
        let b = Budget {
            limit: 1000,
            knob: "[build] budget in slipway.toml".into(),
        };
        let under = check_budget("a", 900, &b, vec![]);
        assert!(!under.over);
        assert_eq!(under.headroom, 100);
        assert!(over_budget_message(std::slice::from_ref(&under)).is_none());
        let over = check_budget(
            "linux_arm64/app",
            1200,
            &b,
            vec![crate::Row {
                name: "net/http".into(),
                size: 700,
            }],
        );
        assert_eq!(over.headroom, -200);
        let msg = over_budget_message(&[under, over]).unwrap().to_string();
        assert!(msg.contains("linux_arm64/app"), "{msg}");
        assert!(msg.contains("by 200 bytes"), "{msg}");
        assert!(msg.contains("[build] budget in slipway.toml"), "{msg}");
        assert!(msg.contains("net/http"), "{msg}");
    }
}
