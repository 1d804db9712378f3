//! `gatehouse audit` (read the audit log) and `gatehouse cleanup` (delete expired rows).

use super::{CliError, CliResult};
use crate::config::parse_duration;
use crate::db::cleanup::cleanup_expired;
use crate::db::unix_now;
use crate::oauth::store::prelude::*;
use crate::startup::Services;

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Only events at or after WHEN: Unix seconds, an RFC 3339 date-time
    /// (2026-11-28T10:00:00Z) or a duration ago (30m, 1h, 7d)
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// At most N events, newest first
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(i64).range(1..))]
    limit: i64,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct CleanupArgs {
    /// Rows deleted per statement at most
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = clap::value_parser!(i64).range(1..))]
    batch: i64,
    #[arg(long)]
    json: bool,
}

pub fn audit(args: AuditArgs, services: &Services) -> CliResult {
    let now = unix_now();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_since(s, now))
        .transpose()
        .map_err(CliError::new)?;
    let events = services.db.conn()?.list_events(since, args.limit)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&events)?);
    } else {
        for e in events {
            println!(
                "{}  {:<24} {:<22} {:<36} {}",
                format_rfc3339(e.created_at),
                e.actor,
                e.action,
                e.target.as_deref().unwrap_or("-"),
                e.ip.as_deref().unwrap_or("-"),
            );
        }
    }
    Ok(())
}

pub fn cleanup(args: CleanupArgs, services: &Services) -> CliResult {
    let mut conn = services.db.conn()?;
    let retention = services.settings.lifetimes.audit_retention;
    let report = cleanup_expired(&mut conn, unix_now(), args.batch, retention)?;
    let now = unix_now();
    let unused = crate::app::clients::delete_unused_self_registered(
        &mut *conn,
        &services.clients,
        now - services.settings.outbound.registration.unused_ttl,
        args.batch,
        now,
    )?;
    if args.json {
        let mut v = serde_json::to_value(report)?;
        v["unused_self_registered_clients"] = unused.into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for (table, n) in [
            ("authorization_codes", report.authorization_codes),
            ("login_sessions", report.login_sessions),
            ("refresh_tokens", report.refresh_tokens),
            ("revoked_tokens", report.revoked_tokens),
            ("used_assertions", report.used_assertions),
            ("login_failures", report.login_failures),
            ("audit_events", report.audit_events),
        ] {
            println!("{table:<20} {n}");
        }
        println!("{:<20} {unused}", "unused clients");
        println!("deleted {} expired rows", report.total());
    }
    Ok(())
}

/// `--since`: Unix seconds, an RFC 3339 date-time, or a duration meaning that long ago.
fn parse_since(raw: &str, now: i64) -> Result<i64, String> {
    let s = raw.trim();
    let bad = || {
        format!(
            "invalid --since '{raw}': use Unix seconds, an RFC 3339 date-time like \
             2026-11-28T10:00:00Z, or a duration like 30m, 1h or 7d"
        )
    };
    if s.is_empty() {
        return Err(bad());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| bad());
    }
    if s.contains(['T', 't', ' ']) || s.matches('-').count() >= 2 {
        return parse_rfc3339(s).ok_or_else(bad);
    }
    parse_duration(s)
        .ok()
        .and_then(|d| now.checked_sub(d))
        .ok_or_else(bad)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01: (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_rfc3339(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// An RFC 3339 date-time (`2026-11-28T10:00:00Z`, `2026-11-28T10:00:00.5+01:00`) as Unix
/// seconds; fractions of a second are dropped.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let sep = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        i += 1 + digits;
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && sep(i + 3, b":") => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    // A leap second (:60) counts as the first second of the next minute.
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(local - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        for ts in [0, 951_782_400, 1_795_860_000, 4_107_542_399, -86_400] {
            assert_eq!(parse_rfc3339(&format_rfc3339(ts)), Some(ts), "{ts}");
        }
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2026-11-28T10:00:00Z"),
            Some(days_from_civil(2026, 11, 28) * 86_400 + 36_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-28T11:30:00.123+01:30"),
            parse_rfc3339("2026-11-28T10:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2026-11-28t05:00:00-05:00"),
            parse_rfc3339("2026-11-28T10:00:00Z")
        );
    }

    #[test]
    fn rfc3339_rejects_junk() {
        for s in [
            "2026-11-28",
            "2026-11-28T10:00Z",
            "2026-11-28T10:00:00",
            "2026-02-29T10:00:00Z",
            "2026-13-01T10:00:00Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T10:00:00.Z",
            "2026-11-28T10:00:00+0100",
            "2026-11-28T10:00:00Zjunk",
            "+026-11-28T10:00:00Z",
            "2026-11-28T10:00:00+01:00x",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s}");
        }
    }

    #[test]
    fn since_forms() {
        let now = 1_800_000_000;
        assert_eq!(parse_since("1700000000", now), Ok(1_700_000_000));
        assert_eq!(parse_since("1h", now), Ok(now - 3600));
        assert_eq!(parse_since("30m", now), Ok(now - 1800));
        assert_eq!(parse_since("7d", now), Ok(now - 7 * 86_400));
        assert_eq!(parse_since("1970-01-02T00:00:00Z", now), Ok(86_400));
        for bad in [
            "",
            "yesterday",
            "-5",
            "1y",
            "2026-11-28",
            "2026-11-28T10:00",
        ] {
            let e = parse_since(bad, now).unwrap_err();
            assert!(e.contains("--since") && !e.contains('\n'), "{bad}: {e}");
        }
    }
}
