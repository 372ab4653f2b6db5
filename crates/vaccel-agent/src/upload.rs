//! Resource uploads: a tenant offers a resource as its blobs' hashes and lengths, then
//! streams each blob it is asked for, and the agent keeps one verified copy of each
//! distinct blob ([`crate::store`]).
//!
//! Every byte is charged before it is allocated: a blob's buffer is charged to the tenant
//! (and the agent) when its first frame's head names its length, and that charge lives in
//! the buffer's [`BlobSink`] until the blob is stored or dropped — a stream that fails or
//! is never finished stays charged for as long as its buffer exists.
//!
//! Which blobs are asked for depends only on what *this tenant* holds, never on what other
//! tenants uploaded: a blob another tenant holds is still uploaded (and then shared), so an
//! offer's answer reveals nothing about other tenants (docs/SECURITY.md, "Shared blobs").

use crate::budget::{Charge, Share};
use crate::store::StoredBlob;
use crate::tenant::Failure;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use vaccel::{ResourceType, code};
use vaccel_proto::BlobInfo;

/// A blob on its way into a resource: held (with the tenant's charge for it) or not yet.
pub(crate) type Have = Option<(Arc<StoredBlob>, Charge)>;

/// An offered resource whose blobs are arriving.
pub(crate) struct Upload {
    pub(crate) resource_type: ResourceType,
    pub(crate) blobs: Vec<BlobInfo>,
    pub(crate) have: Vec<Have>,
    /// Blobs whose bytes are arriving now.
    receiving: Vec<bool>,
}

/// A blob being received: its final buffer, filled in order, and the charge paying for it.
pub struct BlobSink {
    upload: u64,
    index: u32,
    data: Arc<[u8]>,
    filled: usize,
    overrun: bool,
    charge: Charge,
}

impl BlobSink {
    /// Append received bytes (past the announced length they are dropped, and finishing
    /// the blob fails).
    pub fn write(&mut self, bytes: &[u8]) {
        let end = self.filled.saturating_add(bytes.len());
        match Arc::get_mut(&mut self.data).and_then(|d| d.get_mut(self.filled..end)) {
            Some(dst) if !self.overrun => {
                dst.copy_from_slice(bytes);
                self.filled = end;
            }
            _ => self.overrun = true,
        }
    }
}

/// Check an offer's blob names, as resources need them: a plain, non-empty file name.
fn check_names(blobs: &[BlobInfo]) -> Result<(), Failure> {
    match blobs
        .iter()
        .position(|b| b.name.is_empty() || b.name.contains('/') || b.name.contains('\0'))
    {
        Some(i) => Err(Failure::new(
            code::EINVAL,
            format!(
                "blob {i} name {:?} must be a non-empty file name without '/'",
                blobs[i].name
            ),
        )),
        None => Ok(()),
    }
}

/// A tenant's uploads in progress.
#[derive(Default)]
pub(crate) struct Uploads(HashMap<u64, Upload>);

impl Uploads {
    /// Record an offer as upload `id`, given which blobs the tenant already holds (and has
    /// been charged for again). Returns the indices still missing.
    ///
    /// # Errors
    /// `EINVAL` for a bad type, name or no blobs; `EUSERS` past `max` uploads at once.
    pub(crate) fn offer(
        &mut self,
        id: u64,
        max: usize,
        resource_type: u32,
        blobs: Vec<BlobInfo>,
        have: Vec<Have>,
    ) -> Result<Vec<u32>, Failure> {
        let rt = ResourceType::from_raw(resource_type).ok_or_else(|| {
            Failure::new(
                code::EINVAL,
                format!("resource type {resource_type} is not LIB, DATA or MODEL"),
            )
        })?;
        if blobs.is_empty() {
            return Err(Failure::new(
                code::EINVAL,
                "a resource needs at least one blob",
            ));
        }
        check_names(&blobs)?;
        if self.0.len() >= max {
            return Err(Failure::new(
                code::EUSERS,
                format!("{max} uploads are already in progress (the limit)"),
            ));
        }
        let missing = have
            .iter()
            .enumerate()
            .filter(|(_, h)| h.is_none())
            .map(|(i, _)| i as u32)
            .collect();
        self.0.insert(
            id,
            Upload {
                resource_type: rt,
                receiving: vec![false; blobs.len()],
                blobs,
                have,
            },
        );
        Ok(missing)
    }

    /// Start receiving blob `index` of `upload`, announced as `len` bytes: checked against
    /// the offer and charged to `share`, then written straight into its final buffer as
    /// frames arrive.
    ///
    /// # Errors
    /// `ENOENT` for an unknown upload; `EINVAL` for a wrong index or length, or a blob
    /// already received or being received; `ENOMEM` past the tenant's or agent's memory.
    pub(crate) fn begin_blob(
        &mut self,
        share: &Arc<Share>,
        upload: u64,
        index: u32,
        len: u64,
    ) -> Result<BlobSink, Failure> {
        let u = self
            .0
            .get_mut(&upload)
            .ok_or_else(|| Failure::new(code::ENOENT, format!("upload {upload} not found")))?;
        let i = index as usize;
        let info = u.blobs.get(i).ok_or_else(|| {
            Failure::new(code::EINVAL, format!("upload {upload} has no blob {index}"))
        })?;
        if len != info.len {
            return Err(Failure::new(
                code::EINVAL,
                format!(
                    "blob {index} ({}) has {len} bytes, {} were offered",
                    info.name, info.len
                ),
            ));
        }
        if u.have[i].is_some() || u.receiving[i] {
            return Err(Failure::new(
                code::EINVAL,
                format!(
                    "blob {index} ({}) of upload {upload} was already sent",
                    info.name
                ),
            ));
        }
        let charge = share.charge(len, &format!("blob {index} ({})", info.name))?;
        let len = usize::try_from(len).map_err(|_| Failure::new(code::ENOMEM, "blob too large"))?;
        u.receiving[i] = true;
        Ok(BlobSink {
            upload,
            index,
            data: vaccel::zeroed_bytes(len),
            filled: 0,
            overrun: false,
            charge,
        })
    }

    /// A received blob: verify its hash (the content address the client offered) and
    /// keep it, via `store` (which returns an existing copy when there is one). Returns
    /// the finished upload once every blob is in.
    ///
    /// # Errors
    /// `EINVAL` when it is short, long or does not match its hash; the upload is then
    /// dropped.
    pub(crate) fn finish_blob(
        &mut self,
        sink: BlobSink,
        store: impl FnOnce([u8; 32], Arc<[u8]>, Charge) -> Arc<StoredBlob>,
    ) -> Result<Option<Upload>, Failure> {
        let BlobSink {
            upload,
            index,
            data,
            filled,
            overrun,
            charge,
        } = sink;
        let i = index as usize;
        let Some(u) = self.0.get_mut(&upload) else {
            return Err(Failure::new(
                code::ENOENT,
                format!("upload {upload} was dropped while blob {index} arrived"),
            ));
        };
        u.receiving[i] = false;
        let name = &u.blobs[i].name;
        let failure = if overrun {
            Some(format!(
                "blob {index} ({name}) overruns its {} offered bytes",
                data.len()
            ))
        } else if filled != data.len() {
            Some(format!(
                "blob {index} ({name}) ended after {filled} of {} bytes",
                data.len()
            ))
        } else {
            let sha: [u8; 32] = Sha256::digest(&data).into();
            (sha != u.blobs[i].sha256).then(|| {
                format!("blob {index} ({name}) does not match the hash it was offered with")
            })
        };
        if let Some(message) = failure {
            self.0.remove(&upload);
            return Err(Failure::new(code::EINVAL, message));
        }
        let (tenant_part, agent_part) = charge.split();
        u.have[i] = Some((store(u.blobs[i].sha256, data, agent_part), tenant_part));
        if u.have.iter().any(Option::is_none) {
            return Ok(None);
        }
        Ok(self.0.remove(&upload))
    }

    /// Take a finished upload (every blob held) out.
    pub(crate) fn take_if_complete(&mut self, upload: u64) -> Option<Upload> {
        if self
            .0
            .get(&upload)
            .is_some_and(|u| u.have.iter().all(Option::is_some))
        {
            self.0.remove(&upload)
        } else {
            None
        }
    }
}
