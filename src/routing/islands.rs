//! Islands: parts of the road graph a car can enter but not leave, or leave but not enter, or
//! neither — a car park cut off by the extract border, a one-way stub. They are the nodes
//! outside any strongly connected component of at least `island_max_nodes` nodes (the
//! largest component never counts as an island). Searches still cross them; points are never
//! snapped to them, since a trip starting or ending there would be stuck.
//!
//! Tarjan's algorithm, iterative (road graphs are deep enough to overflow a recursive one).

/// Component sizes and island flags of a graph given as CSR (`first` has n + 1 entries,
/// `heads[first[v]..first[v + 1]]` are the successors of v).
pub fn islands(first: &[u32], heads: impl Fn(usize) -> u32, island_max_nodes: usize) -> Vec<bool> {
    let n = first.len().saturating_sub(1);
    let comp = strongly_connected_components(first, &heads);
    let mut sizes: Vec<usize> = Vec::new();
    for &c in &comp {
        let c = c as usize;
        if sizes.len() <= c {
            sizes.resize(c + 1, 0);
        }
        sizes[c] += 1;
    }
    let largest = sizes
        .iter()
        .enumerate()
        .max_by_key(|(i, s)| (**s, std::cmp::Reverse(*i)))
        .map(|(i, _)| i);
    (0..n)
        .map(|v| {
            let c = comp[v] as usize;
            Some(c) != largest && sizes[c] < island_max_nodes
        })
        .collect()
}

/// The component id of every node.
pub fn strongly_connected_components(first: &[u32], heads: &impl Fn(usize) -> u32) -> Vec<u32> {
    const UNSEEN: u32 = u32::MAX;
    let n = first.len().saturating_sub(1);
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![UNSEEN; n];
    let mut stack: Vec<u32> = Vec::new();
    // (node, next edge position)
    let mut calls: Vec<(u32, u32)> = Vec::new();
    let mut counter = 0u32;
    let mut comps = 0u32;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        index[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root as u32);
        on_stack[root] = true;
        calls.push((root as u32, first[root]));
        while let Some(&mut (v, ref mut next)) = calls.last_mut() {
            let v = v as usize;
            if *next < first[v + 1] {
                let w = heads(*next as usize) as usize;
                *next += 1;
                if index[w] == UNSEEN {
                    index[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w as u32);
                    on_stack[w] = true;
                    calls.push((w as u32, first[w]));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    let p = parent as usize;
                    low[p] = low[p].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w as usize] = false;
                        comp[w as usize] = comps;
                        if w as usize == v {
                            break;
                        }
                    }
                    comps += 1;
                }
            }
        }
    }
    comp
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn csr(n: usize, edges: &[(u32, u32)]) -> (Vec<u32>, Vec<u32>) {
        let mut first = vec![0u32; n + 1];
        for &(a, _) in edges {
            first[a as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut pos = first.clone();
        let mut heads = vec![0u32; edges.len()];
        for &(a, b) in edges {
            heads[pos[a as usize] as usize] = b;
            pos[a as usize] += 1;
        }
        (first, heads)
    }

    #[test]
    fn components_match_mutual_reachability_on_random_graphs() {
        let seed = 20_250_305;
        println!("seed {seed}");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..30 {
            let n = rng.random_range(1..40usize);
            let m = rng.random_range(0..n * 2);
            let edges: Vec<(u32, u32)> = (0..m)
                .map(|_| (rng.random_range(0..n) as u32, rng.random_range(0..n) as u32))
                .collect();
            let (first, heads) = csr(n, &edges);
            let comp = strongly_connected_components(&first, &|i| heads[i]);
            // Oracle: transitive closure by Floyd–Warshall.
            let mut reach = vec![vec![false; n]; n];
            for (i, row) in reach.iter_mut().enumerate() {
                row[i] = true;
            }
            for &(a, b) in &edges {
                reach[a as usize][b as usize] = true;
            }
            for k in 0..n {
                let row_k = reach[k].clone();
                for row in reach.iter_mut() {
                    if row[k] {
                        for (cell, &via) in row.iter_mut().zip(&row_k) {
                            *cell |= via;
                        }
                    }
                }
            }
            for i in 0..n {
                for j in 0..n {
                    assert_eq!(comp[i] == comp[j], reach[i][j] && reach[j][i], "{i} {j}");
                }
            }
        }
    }

    #[test]
    fn small_components_are_islands_but_never_the_largest() {
        // 0 <-> 1 <-> 2 (a component of 3), 3 -> 0 (a one-way stub), 4 <-> 5 (a pair).
        let (first, heads) = csr(6, &[(0, 1), (1, 0), (1, 2), (2, 1), (3, 0), (4, 5), (5, 4)]);
        let isl = islands(&first, |i| heads[i], 3);
        assert_eq!(isl, vec![false, false, false, true, true, true]);
        let isl = islands(&first, |i| heads[i], 100);
        assert_eq!(isl, vec![false, false, false, true, true, true]);
        let isl = islands(&first, |i| heads[i], 0);
        assert!(isl.iter().all(|x| !x));
    }
}
