//! TensorFlow graph nodes (`struct vaccel_tf_node`: a name and an output index) as they
//! cross the ABI: one `CUSTOM` argument per list, custom type id [`NODES_TYPE_ID`], holding
//! a little-endian encoding
//!
//! ```text
//! u32 magic "VNOD", u32 count, then per node: i32 id, u32 name_len, name (UTF-8, no NUL)
//! ```
//!
//! Every length is checked on decode; leftovers, bad UTF-8, a NUL in a name (C plugins
//! read names as C strings) and more than [`MAX_NODES`] nodes are refused.

/// Custom type id of an encoded node list ("VNOD").
pub const NODES_TYPE_ID: u32 = u32::from_le_bytes(*b"VNOD");

/// Most nodes one list may hold.
pub const MAX_NODES: usize = 4096;

/// One graph node: its operation's name and the output index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Operation name in the graph (e.g. `serving_default_input`).
    pub name: String,
    /// Output index of that operation.
    pub id: i32,
}

/// Encode a node list.
pub fn encode(nodes: &[Node]) -> Vec<u8> {
    let len = 8 + nodes.iter().map(|n| 8 + n.name.len()).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&NODES_TYPE_ID.to_le_bytes());
    out.extend_from_slice(&(nodes.len() as u32).to_le_bytes());
    for n in nodes {
        out.extend_from_slice(&n.id.to_le_bytes());
        out.extend_from_slice(&(n.name.len() as u32).to_le_bytes());
        out.extend_from_slice(n.name.as_bytes());
    }
    out
}

/// Decode a node list, checking every length against the buffer.
///
/// # Errors
/// A message naming what is malformed.
pub fn decode(b: &[u8]) -> Result<Vec<Node>, String> {
    let mut at = 0usize;
    let mut take = |n: usize, what: &str| -> Result<&[u8], String> {
        let s = b
            .get(at..at.checked_add(n).ok_or("node list too large")?)
            .ok_or_else(|| format!("node list truncated in {what} ({} bytes)", b.len()))?;
        at += n;
        Ok(s)
    };
    let u32_of = |s: &[u8]| u32::from_le_bytes(s.try_into().expect("4 bytes"));
    if u32_of(take(4, "its magic")?) != NODES_TYPE_ID {
        return Err("not an encoded node list (bad magic)".into());
    }
    let count = u32_of(take(4, "its count")?) as usize;
    if count > MAX_NODES {
        return Err(format!("{count} nodes; at most {MAX_NODES}"));
    }
    let mut nodes = Vec::with_capacity(count);
    for i in 0..count {
        let id = i32::from_le_bytes(take(4, "a node id")?.try_into().expect("4 bytes"));
        let len = u32_of(take(4, "a name length")?) as usize;
        let name = std::str::from_utf8(take(len, "a name")?)
            .map_err(|_| format!("node {i}: its name is not UTF-8"))?;
        if name.contains('\0') {
            return Err(format!("node {i}: its name holds a NUL"));
        }
        nodes.push(Node {
            name: name.to_owned(),
            id,
        });
    }
    if at != b.len() {
        return Err(format!(
            "{} bytes after the node list",
            b.len().saturating_sub(at)
        ));
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_every_malformation() {
        let nodes = vec![
            Node {
                name: "serving_default_input".into(),
                id: 0,
            },
            Node {
                name: "StatefulPartitionedCall".into(),
                id: -3,
            },
            Node {
                name: String::new(),
                id: 7,
            },
        ];
        let b = encode(&nodes);
        assert_eq!(decode(&b).unwrap(), nodes);
        assert_eq!(decode(&encode(&[])).unwrap(), []);
        // Every truncation is refused.
        for cut in 0..b.len() {
            assert!(decode(&b[..cut]).is_err(), "cut at {cut}");
        }
        // Leftovers, bad magic, a count beyond the limit, bad UTF-8, a NUL.
        let mut extra = b.clone();
        extra.push(0);
        assert!(decode(&extra).unwrap_err().contains("after the node list"));
        let mut magic = b.clone();
        magic[0] ^= 1;
        assert!(decode(&magic).unwrap_err().contains("bad magic"));
        let mut many = b.clone();
        many[4..8].copy_from_slice(&((MAX_NODES + 1) as u32).to_le_bytes());
        assert!(decode(&many).unwrap_err().contains("at most"));
        let mut utf = encode(&nodes[..1]);
        let last = utf.len() - 1;
        utf[last] = 0xff;
        assert!(decode(&utf).unwrap_err().contains("UTF-8"));
        let mut nul = encode(&nodes[..1]);
        nul[last] = 0;
        assert!(decode(&nul).unwrap_err().contains("NUL"));
        // A length that would run past the end.
        let mut long = encode(&nodes[..1]);
        long[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&long).is_err());
    }
}
