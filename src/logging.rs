//! Logs go to stderr (the journal under systemd), one line per event, prefixed with the
//! process's role so that the interleaved output of five processes stays readable.

use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

struct RoleFormat {
    role: &'static str,
    inner: Format,
}

impl<S, N> FormatEvent<S, N> for RoleFormat
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(w, "{:<10} ", self.role)?;
        self.inner.format_event(ctx, w, event)
    }
}

pub fn init(role: &'static str, level: &str) {
    let level = level.parse::<tracing::Level>().unwrap_or(tracing::Level::INFO);
    let format = RoleFormat { role, inner: Format::default().with_target(false).with_ansi(false) };
    let _ =
        tracing_subscriber::fmt().with_max_level(level).with_writer(std::io::stderr).event_format(format).try_init();
}
