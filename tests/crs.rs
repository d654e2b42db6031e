//! Reprojection to WGS84 against reference values.
//!
//! References:
//! - Lambert-93 (EPSG:2154) and CC49 (EPSG:3949) origins are exact by definition (IGN: the
//!   projection origin 3°E, 46.5°N maps to 700,000 / 6,600,000; CC49's 3°E, 49°N to
//!   1,700,000 / 8,200,000).
//! - (652,709.401, 6,859,290.946) in Lambert-93 is 2.355781°E, 48.831938°N (Paris 13e), the
//!   test point of proj4php's test suite (given to 1e-6°).
//! - Every other value was computed by PROJ 9.5.1 through pyproj 3.7.2
//!   (`Transformer.from_crs("EPSG:n", "EPSG:4326", always_xy=True)`), without grids.
//!
//! Differences are measured in metres on the ground and must be below 1 mm.

use terriens::geo_util::{Crs, Reprojector, metres_per_degree};

/// (EPSG code, x, y, lon, lat)
const REFERENCES: &[(u32, f64, f64, f64, f64)] = &[
    (2154, 700_000.0, 6_600_000.0, 3.0, 46.5),
    (
        2154,
        489_353.59,
        6_939_110.78,
        0.091_640_977_669_196_92,
        49.516_407_207_736_066,
    ),
    (
        2154,
        652_709.401,
        6_859_290.946,
        2.355_781_112_797_054_7,
        48.831_938_054_382_37,
    ),
    (
        2154,
        893_842.0,
        6_242_826.0,
        5.386_105_397_775_15,
        43.258_259_556_199_47,
    ),
    (3949, 1_700_000.0, 8_200_000.0, 3.0, 49.0),
    (
        3949,
        1_493_000.0,
        8_265_000.0,
        0.138_654_498_511_115_75,
        49.549_411_145_536_18,
    ),
    // Lambert II étendu (NTF, Paris meridian): PROJ's default NTF → RGF93 transformation.
    (
        27572,
        600_000.0,
        2_200_000.0,
        2.336_533_608_362_129_3,
        46.799_948_781_127_014,
    ),
    (
        27572,
        455_000.0,
        2_512_000.0,
        0.333_088_067_355_760_96,
        49.588_430_771_863_12,
    ),
    // Overseas: RGAF09 / UTM 20N (Martinique), RGR92 / UTM 40S (Réunion), RGFG95 / UTM 22N.
    (
        5490,
        700_000.0,
        1_620_000.0,
        -61.142_969_390_391_67,
        14.646_069_200_080_037,
    ),
    (
        2975,
        340_000.0,
        7_660_000.0,
        55.459_033_733_770_02,
        -21.154_289_194_060_592,
    ),
    (
        2972,
        350_000.0,
        550_000.0,
        -52.352_950_032_300_676,
        4.974_507_627_238_177,
    ),
];

#[test]
fn known_points_within_a_millimetre() {
    for &(code, x, y, lon, lat) in REFERENCES {
        let r = Reprojector::to_wgs84(&Crs::epsg(code)).expect("PROJ knows the CRS");
        let (got_lon, got_lat) = r.convert(x, y).unwrap();
        let (m_lat, m_lon) = metres_per_degree(lat);
        let de = (got_lon - lon) * m_lon;
        let dn = (got_lat - lat) * m_lat;
        let err_m = de.hypot(dn);
        // The proj4php point is given to 1e-6° only (≈ 0.1 m).
        let tolerance = if x == 652_709.401 { 0.1 } else { 0.001 };
        assert!(
            err_m < tolerance,
            "EPSG:{code} ({x}, {y}) → ({got_lon}, {got_lat}), expected ({lon}, {lat}): {err_m:.6} m off"
        );
    }
}

#[test]
fn crs_names_from_files() {
    assert_eq!(
        Crs::parse("urn:ogc:def:crs:EPSG::2154").unwrap(),
        Crs::epsg(2154)
    );
    let err = Reprojector::to_wgs84(&Crs::parse("EPSG:123456").unwrap()).unwrap_err();
    assert!(err.to_string().contains("unknown CRS EPSG:123456"), "{err}");
}
