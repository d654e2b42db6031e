//! The fixed material taxonomy of waste deposits, and the unit each material is counted in.

/// Materials, in the order used for enum codes (stable: stored and tiled by index).
pub const MATERIALS: &[&str] = &[
    "wood",
    "concrete",
    "plastic",
    "metal",
    "shells",
    "raw_earth",
    "organic",
    "paper_cardboard",
    "glass",
    "textile",
    "water",
    "heat",
    "other",
];

/// Units of a yearly quantity.
pub const UNITS: &[&str] = &["t", "m3", "MWh"];

/// The unit a material's yearly quantity is counted in: cubic metres for water, megawatt-hours
/// for heat, tonnes for everything else.
///
/// ```
/// assert_eq!(terriens::model::material_unit("water"), Some("m3"));
/// assert_eq!(terriens::model::material_unit("wood"), Some("t"));
/// assert_eq!(terriens::model::material_unit("unobtainium"), None);
/// ```
pub fn material_unit(material: &str) -> Option<&'static str> {
    match material {
        "water" => Some("m3"),
        "heat" => Some("MWh"),
        m if MATERIALS.contains(&m) => Some("t"),
        _ => None,
    }
}

/// Normalise a European waste code (EWC / code déchet, 6 digits, `*` for hazardous) written as
/// `170201`, `17 02 01`, `17.02.01` or `16 01 04*`. Returns the 6 digits and the hazardous flag.
///
/// ```
/// use terriens::model::parse_waste_code;
/// assert_eq!(parse_waste_code("17 02 01"), Some(("170201".to_string(), false)));
/// assert_eq!(parse_waste_code("160104*"), Some(("160104".to_string(), true)));
/// assert_eq!(parse_waste_code("1702"), None);
/// ```
pub fn parse_waste_code(raw: &str) -> Option<(String, bool)> {
    let trimmed = raw.trim();
    let (body, hazardous) = match trimmed.strip_suffix('*') {
        Some(b) => (b, true),
        None => (trimmed, false),
    };
    let digits: String = body
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-'))
        .collect();
    if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Some((digits, hazardous))
    } else {
        None
    }
}
