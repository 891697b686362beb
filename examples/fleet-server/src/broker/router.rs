//! Subscriptions as a tree of topic levels: a publish walks one branch per level (plus the `+`
//! and `#` branches), so routing costs the topic's depth, not the number of clients or topics.

use std::collections::HashMap;

/// A connection's number (unique for the broker's lifetime).
pub type Key = u64;

#[derive(Debug, Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    plus: Option<Box<Node>>,
    /// Subscribers of the filter ending here with `#`.
    hash: Vec<(Key, u8)>,
    /// Subscribers of the filter ending exactly here.
    here: Vec<(Key, u8)>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.hash.is_empty()
            && self.here.is_empty()
    }
}

/// Every subscription of every connection.
#[derive(Debug, Default)]
pub struct Router {
    root: Node,
    filters: usize,
}

fn upsert(list: &mut Vec<(Key, u8)>, key: Key, qos: u8) -> bool {
    if let Some(e) = list.iter_mut().find(|(k, _)| *k == key) {
        e.1 = qos;
        false
    } else {
        list.push((key, qos));
        true
    }
}

impl Router {
    /// Subscribes `key` to `filter` (checked by [`super::packet::check_filter`]) at `qos`; a
    /// second subscription to the same filter replaces the first.
    pub fn subscribe(&mut self, key: Key, filter: &str, qos: u8) {
        let mut node = &mut self.root;
        let mut levels = filter.split('/').peekable();
        while let Some(level) = levels.next() {
            if level == "#" && levels.peek().is_none() {
                if upsert(&mut node.hash, key, qos) {
                    self.filters += 1;
                }
                return;
            }
            node = if level == "+" {
                node.plus.get_or_insert_with(Box::default)
            } else {
                node.children.entry(level.into()).or_default()
            };
        }
        if upsert(&mut node.here, key, qos) {
            self.filters += 1;
        }
    }

    /// Removes `key`'s subscription to `filter` (and the branches it leaves empty).
    pub fn unsubscribe(&mut self, key: Key, filter: &str) {
        let levels: Vec<&str> = filter.split('/').collect();
        if remove(&mut self.root, &levels, key) {
            self.filters -= 1;
        }
    }

    /// Subscriptions held (all connections).
    #[must_use]
    pub fn filters(&self) -> usize {
        self.filters
    }

    /// The subscribers of `topic`, each once, at the highest QoS among its matching filters.
    #[must_use]
    pub fn matches(&self, topic: &str) -> Vec<(Key, u8)> {
        let mut out = Vec::new();
        self.matches_into(topic, &mut out);
        out
    }

    /// [`Router::matches`] into `out` (cleared first), allocating nothing when `out` has room.
    pub fn matches_into(&self, topic: &str, out: &mut Vec<(Key, u8)>) {
        out.clear();
        // Wildcards at the first level do not match topics starting with `$` (MQTT 4.7.2).
        let system = topic.starts_with('$');
        collect(&self.root, topic.split('/'), true, system, out);
        if out.len() > 1 {
            out.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            out.dedup_by_key(|e| e.0);
        }
    }
}

fn collect(
    node: &Node,
    mut levels: core::str::Split<'_, char>,
    first: bool,
    system: bool,
    out: &mut Vec<(Key, u8)>,
) {
    let wild = !(system && first);
    if wild {
        out.extend_from_slice(&node.hash);
    }
    let Some(level) = levels.next() else {
        out.extend_from_slice(&node.here);
        return;
    };
    if let Some(child) = node.children.get(level) {
        collect(child, levels.clone(), false, system, out);
    }
    if wild && let Some(plus) = &node.plus {
        collect(plus, levels, false, system, out);
    }
}

/// Removes `key` from the filter `levels` under `node`; true if it was there.
fn remove(node: &mut Node, levels: &[&str], key: Key) -> bool {
    let Some((level, rest)) = levels.split_first() else {
        let before = node.here.len();
        node.here.retain(|(k, _)| *k != key);
        return node.here.len() < before;
    };
    if *level == "#" && rest.is_empty() {
        let before = node.hash.len();
        node.hash.retain(|(k, _)| *k != key);
        return node.hash.len() < before;
    }
    if *level == "+" {
        let Some(plus) = node.plus.as_mut() else {
            return false;
        };
        let removed = remove(plus, rest, key);
        if plus.is_empty() {
            node.plus = None;
        }
        return removed;
    }
    let Some(child) = node.children.get_mut(*level) else {
        return false;
    };
    let removed = remove(child, rest, key);
    if child.is_empty() {
        node.children.remove(*level);
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_exact_plus_and_hash_filters() {
        let mut r = Router::default();
        r.subscribe(1, "fleet/v1/devices/+/up/+", 1);
        r.subscribe(2, "fleet/v1/devices/7/down/+", 1);
        r.subscribe(3, "fleet/#", 0);
        r.subscribe(4, "fleet/v1/devices/7/down/ack", 0);
        r.subscribe(5, "#", 0);
        assert_eq!(
            r.matches("fleet/v1/devices/7/up/frames"),
            vec![(1, 1), (3, 0), (5, 0)]
        );
        assert_eq!(
            r.matches("fleet/v1/devices/7/down/ack"),
            vec![(2, 1), (3, 0), (4, 0), (5, 0)]
        );
        assert_eq!(
            r.matches("fleet/v1/devices/8/down/ack"),
            vec![(3, 0), (5, 0)]
        );
        // `#` matches its parent level; wildcards never match `$` topics at the first level.
        assert_eq!(r.matches("fleet"), vec![(3, 0), (5, 0)]);
        assert_eq!(r.matches("$SYS/x"), vec![]);
        assert_eq!(r.filters(), 5);
    }

    #[test]
    fn one_delivery_per_client_at_its_highest_qos_and_unsubscribe_prunes() {
        let mut r = Router::default();
        r.subscribe(1, "a/+", 0);
        r.subscribe(1, "a/b", 1);
        r.subscribe(1, "a/b", 1);
        assert_eq!(r.filters(), 2);
        assert_eq!(r.matches("a/b"), vec![(1, 1)]);
        r.unsubscribe(1, "a/b");
        r.unsubscribe(1, "a/b");
        assert_eq!(r.matches("a/b"), vec![(1, 0)]);
        r.unsubscribe(1, "a/+");
        r.unsubscribe(9, "x/#");
        assert_eq!(r.filters(), 0);
        assert!(r.root.is_empty(), "branches left behind: {:?}", r.root);
    }
}
