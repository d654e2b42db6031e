//! The Hilbert curve: the position of a cell of a 2^order × 2^order grid along the curve, so
//! that cells near each other on the curve are near each other on the grid. Used to order the
//! tiles of a PMTiles archive (the spec's tile ids) and the nodes of a routing graph (cache
//! locality).

/// Position of cell (`x`, `y`) along the Hilbert curve over a 2^`order` × 2^`order` grid
/// (`order` ≤ 32; `x`, `y` < 2^`order`).
///
/// ```
/// use terriens::geo_util::hilbert_index;
/// assert_eq!(hilbert_index(0, 0, 0), 0);
/// let order1: Vec<u64> = [(0, 0), (0, 1), (1, 1), (1, 0)]
///     .iter()
///     .map(|&(x, y)| hilbert_index(1, x, y))
///     .collect();
/// assert_eq!(order1, [0, 1, 2, 3]);
/// ```
pub fn hilbert_index(order: u8, x: u32, y: u32) -> u64 {
    let n: u64 = 1 << order;
    let (mut x, mut y) = (u64::from(x), u64::from(y));
    let mut d: u64 = 0;
    let mut s = n / 2;
    while s > 0 {
        let rx = u64::from(x & s > 0);
        let ry = u64::from(y & s > 0);
        d += s * s * ((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = n - 1 - x;
                y = n - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

/// Position along a Hilbert curve over a 2^16 × 2^16 grid.
pub fn hilbert_d(x: u32, y: u32) -> u64 {
    hilbert_index(16, x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_has_its_own_position_and_steps_are_adjacent() {
        for order in 0..=4u8 {
            let side = 1u32 << order;
            let mut cells: Vec<(u64, u32, u32)> = (0..side)
                .flat_map(|x| (0..side).map(move |y| (hilbert_index(order, x, y), x, y)))
                .collect();
            cells.sort();
            let positions: Vec<u64> = cells.iter().map(|c| c.0).collect();
            assert_eq!(positions, (0..u64::from(side * side)).collect::<Vec<_>>());
            for w in cells.windows(2) {
                let (dx, dy) = (w[0].1.abs_diff(w[1].1), w[0].2.abs_diff(w[1].2));
                assert_eq!(dx + dy, 1, "order {order}: {w:?}");
            }
        }
    }

    #[test]
    fn the_large_grid_ends_where_the_curve_does() {
        // The curve starts at the origin and ends at the bottom-right corner.
        assert_eq!(hilbert_d(0, 0), 0);
        assert_eq!(hilbert_d(65535, 0), (1u64 << 32) - 1);
    }
}
