//! GeoJSON, CSV and FlatGeobuf ingest: any bytes, any layer, never a panic.
//!
//! The first byte picks the format and the layer, the rest is the document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terriens::ingest::{Format, ImportOptions, import_bytes};
use terriens::model::Layer;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, doc)) = data.split_first() else {
        return;
    };
    let format = match selector % 4 {
        0 | 1 => Format::GeoJson,
        2 => Format::Csv,
        _ => Format::FlatGeobuf,
    };
    let layer = Layer::ALL[usize::from(selector / 4) % Layer::ALL.len()];
    let mut opts = ImportOptions::new(layer);
    opts.as_holders = layer == Layer::WasteDeposits && selector & 0x80 != 0;
    let progress = indicatif::ProgressBar::hidden();
    let _ = import_bytes(doc, format, &opts, &progress);
    // The sniffed format as well, as `terriens import` does for unknown extensions.
    let _ = import_bytes(doc, Format::sniff(doc), &opts, &progress);
});
