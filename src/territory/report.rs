//! The build report in words, as `territory build` prints it.

use std::fmt::Write;

use crate::store::Manifest;

/// The manifest as a report: the territory, then per layer what was read, imported, left
/// outside, rejected (by reason) and derived, the roads, and what is missing.
pub fn report_text(m: &Manifest) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "territory: {}{} — {} communes, {} inhabitants",
        m.name,
        m.siren
            .as_deref()
            .map(|x| format!(" (SIREN {x})"))
            .unwrap_or_default(),
        m.communes.len(),
        m.population
            .map_or("unknown".to_string(), |p| p.to_string()),
    );
    let _ = writeln!(
        s,
        "boundary: {}; buffer {} km",
        m.boundary_source.as_deref().unwrap_or("none"),
        m.buffer_km
    );
    for b in &m.bassins {
        let _ = writeln!(
            s,
            "employment area {} {}: {} of its {} communes in the territory ({:.0} % of its population)",
            b.code,
            b.name,
            b.communes_in_territory,
            b.communes_total,
            b.population_share * 100.0
        );
    }
    for (layer, r) in &m.layers {
        let rejected: usize = r.rejected.values().sum();
        let _ = writeln!(
            s,
            "{layer}: imported {} (read {}, outside the territory {}, rejected {rejected})",
            r.imported, r.read, r.outside
        );
        for (reason, n) in &r.rejected {
            let _ = writeln!(s, "  rejected {n}: {reason}");
        }
        for (field, n) in &r.derived {
            let _ = writeln!(s, "  {field} derived from the location for {n}");
        }
        for note in &r.notes {
            let _ = writeln!(s, "  note: {note}");
        }
    }
    match &m.roads.file {
        Some(f) => {
            let nodes: Vec<String> = m
                .roads
                .nodes
                .iter()
                .map(|(p, n)| format!("{p} {n} nodes"))
                .collect();
            let _ = writeln!(s, "roads: {f} ({})", nodes.join(", "));
        }
        None => {
            let _ = writeln!(s, "roads: none");
        }
    }
    for note in &m.roads.notes {
        let _ = writeln!(s, "  note: {note}");
    }
    for x in &m.missing {
        let _ = writeln!(s, "missing: {x}");
    }
    for x in &m.ignored_files {
        let _ = writeln!(s, "ignored: {x}");
    }
    for src in &m.sources {
        let _ = writeln!(
            s,
            "source {}: {} — {}, {} ({})",
            src.kind, src.file, src.producer, src.licence, src.vintage
        );
    }
    s
}
