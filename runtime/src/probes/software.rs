//! `software`: a software perf event on every CPU (the `-p` process's events only, as in the
//! current release), sampled every period events; its rate is counted by a counting-only
//! perf event on the same event, divided by the period. Lists the compiler's one table of
//! software events.

use std::io::Write;
use std::path::Path;

use tracebound_compiler::machine::facts::{FactError, MachineFacts};
use tracebound_compiler::probe::{software, ProviderKind, Target};

use super::attach::{AttachError, AttachPlan};
use super::mechanism::{Count, Counting, ListQuery, Mechanism, Price};
use super::perf_event::{attach_scoped, every_cpu};
use crate::cost::CostModel;
use crate::kernel::perf_counter::{EventSpec, TYPE_SOFTWARE};
use crate::probes::load::Loaded;

pub struct Software;

impl Mechanism for Software {
    fn attach(&self, loaded: &mut Loaded, plan: &AttachPlan) -> Result<usize, AttachError> {
        attach_scoped(loaded, plan, &every_cpu(), plan.traced)
    }

    fn counting(&self, targets: &[Target], _tracefs: &Path) -> Vec<Count> {
        targets
            .iter()
            .map(|t| match t {
                Target::Software(s) => Count {
                    how: Counting::PerfEvent {
                        event: EventSpec {
                            kind: TYPE_SOFTWARE,
                            config: s.event.config,
                        },
                        period: s.period,
                    },
                    first_emulated: None,
                },
                _ => Count::unknown(),
            })
            .collect()
    }

    fn price(&self, model: &CostModel, _first_emulated: Option<bool>) -> Price {
        Price::new(model.perf_sample_ns, model.perf_sample_cold_ns)
    }

    fn list(
        &self,
        query: &ListQuery,
        _facts: &dyn MachineFacts,
        out: &mut dyn Write,
    ) -> Result<usize, FactError> {
        list_events(ProviderKind::Software, &software::event_names(), query, out)
    }
}

/// `software:EVENT:` for each event whose name matches, when the pattern's provider part
/// matches the kind.
pub(super) fn list_events(
    kind: ProviderKind,
    events: &[&str],
    query: &ListQuery,
    out: &mut dyn Write,
) -> Result<usize, FactError> {
    use tracebound_compiler::machine::glob::Glob;
    if !super::mechanism::wants(kind, query) {
        return Ok(0);
    }
    let glob = Glob::new(query.rest.split(':').next().unwrap_or("*"));
    let mut count = 0;
    for event in events.iter().filter(|e| glob.matches(e)) {
        writeln!(out, "{}:{event}:", kind.name()).map_err(super::mechanism::io_error)?;
        count += 1;
    }
    Ok(count)
}
