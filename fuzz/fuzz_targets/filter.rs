//! The filter grammar: any query string, any layer, never a panic; and a parsed filter's
//! canonical form parses back to the same filter (tile cache keys and ETags rely on it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use terriens::index::Filter;
use terriens::model::Layer;

fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let params = pairs(query);
    for layer in Layer::ALL {
        let _ = Filter::parse_lenient(layer, &params, &["limit"]);
        if let Ok(f) = Filter::parse(layer, &params, &["limit"]) {
            let canonical = f.canonical();
            let again = Filter::parse(layer, &pairs(&canonical), &[])
                .unwrap_or_else(|e| panic!("canonical `{canonical}` does not parse: {e}"));
            assert_eq!(
                again.canonical(),
                canonical,
                "canonical form is not a fixed point"
            );
        }
    }
});
