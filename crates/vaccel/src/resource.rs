//! [`Resource`]: a library, data set or model, made of named blobs, registrable with any
//! number of sessions. Plugins see its blobs (names and bytes), never host paths.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use vaccel_plugin::sync::lock;
use vaccel_plugin::{HostBlob, HostResource, ResourceType};

static NEXT_ID: AtomicI64 = AtomicI64::new(1);

#[derive(Debug)]
pub(crate) struct ResourceInner {
    id: i64,
    resource_type: ResourceType,
    paths: Vec<PathBuf>,
    /// Its blobs, and the file each was read from: set when it is made, or — for a
    /// resource made with [`Resource::from_paths_deferred`] — when it is first loaded
    /// (registered), as upstream reads a resource's data at registration. Never changed
    /// once set: every session, plugin and agent sees the same bytes.
    data: OnceLock<Data>,
    /// Serialises the one load.
    loading: Mutex<()>,
    /// Ids of the sessions it is registered with.
    pub(crate) sessions: Mutex<Vec<i64>>,
}

#[derive(Debug)]
struct Data {
    host: HostResource,
    /// The file each blob was read from (none for blobs made in memory).
    blob_paths: Vec<Option<PathBuf>>,
}

/// A resource. Clones share it; it lives while a clone or a session registration holds it.
#[derive(Debug, Clone)]
pub struct Resource {
    pub(crate) inner: Arc<ResourceInner>,
}

fn read_file(path: &Path) -> Result<HostBlob> {
    let data = std::fs::read(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "blob".into());
    Ok(HostBlob::new(name, data.into()))
}

/// Most bytes one URL resource may download (more is refused, not truncated).
pub const MAX_DOWNLOAD: u64 = 1 << 30;

/// Whether a resource path is a URL to download.
fn is_url(p: &Path) -> bool {
    p.to_str()
        .is_some_and(|s| s.starts_with("http://") || s.starts_with("https://"))
}

/// Download a URL as one blob named by the last segment of its path (as upstream names
/// downloaded files). Timeouts: 10 s to connect, 5 minutes in all.
fn download(url: &str) -> Result<HostBlob> {
    use std::io::Read;
    let failed = |reason: String| Error::Download {
        url: url.into(),
        reason,
    };
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(300))
        .build();
    let response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    let mut data = Vec::new();
    response
        .into_reader()
        .take(MAX_DOWNLOAD + 1)
        .read_to_end(&mut data)
        .map_err(|e| failed(e.to_string()))?;
    if data.len() as u64 > MAX_DOWNLOAD {
        return Err(failed(format!("larger than {MAX_DOWNLOAD} bytes")));
    }
    if data.is_empty() {
        return Err(failed("empty response".into()));
    }
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|u| u.rsplit('/').next())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .unwrap_or("download")
        .to_string();
    Ok(HostBlob::new(name, data.into()))
}

/// The blobs of a file or directory, each with the file it was read from. A directory is
/// read recursively, as upstream does: its regular files, in path order, each a blob
/// named by its file name.
fn blobs_of_path(path: &Path) -> Result<Vec<(HostBlob, PathBuf)>> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    if !meta.is_dir() {
        return Ok(vec![(read_file(path)?, path.to_owned())]);
    }
    let mut files = Vec::new();
    collect_files(path, &mut files, 0)?;
    files.sort();
    if files.is_empty() {
        return Err(Error::EmptyDirectory { path: path.into() });
    }
    files.into_iter().map(|p| Ok((read_file(&p)?, p))).collect()
}

/// Most directory levels followed below a resource's directory (a guard against loops
/// through symbolic links and runaway trees).
const MAX_DEPTH: usize = 32;

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::Invalid(format!(
            "{} is more than {MAX_DEPTH} directories deep",
            dir.display()
        )));
    }
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.into(),
        source,
    })?;
    for entry in entries.filter_map(|e| e.ok()) {
        let p = entry.path();
        if p.is_dir() {
            collect_files(&p, out, depth + 1)?;
        } else if p.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

/// Read (or download) every path: the blobs, and the file each came from.
fn read_paths(paths: &[PathBuf]) -> Result<(Vec<HostBlob>, Vec<Option<PathBuf>>)> {
    let (mut blobs, mut blob_paths) = (Vec::new(), Vec::new());
    for p in paths {
        if is_url(p) {
            blobs.push(download(&p.to_string_lossy())?);
            blob_paths.push(None);
            continue;
        }
        for (blob, file) in blobs_of_path(p)? {
            blobs.push(blob);
            blob_paths.push(Some(file));
        }
    }
    Ok((blobs, blob_paths))
}

impl Resource {
    fn unloaded(resource_type: ResourceType, paths: Vec<PathBuf>) -> Resource {
        Resource {
            inner: Arc::new(ResourceInner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                resource_type,
                paths,
                data: OnceLock::new(),
                loading: Mutex::new(()),
                sessions: Mutex::new(Vec::new()),
            }),
        }
    }

    fn new(
        resource_type: ResourceType,
        blobs: Vec<HostBlob>,
        paths: Vec<PathBuf>,
        blob_paths: Vec<Option<PathBuf>>,
    ) -> Resource {
        let r = Self::unloaded(resource_type, paths);
        r.set_data(blobs, blob_paths);
        r
    }

    fn set_data(&self, blobs: Vec<HostBlob>, blob_paths: Vec<Option<PathBuf>>) {
        let _ = self.inner.data.set(Data {
            host: HostResource {
                id: self.inner.id,
                resource_type: self.inner.resource_type,
                blobs: blobs.into(),
            },
            blob_paths,
        });
    }

    /// A resource from files, directories and/or URLs whose data is read (downloaded) when
    /// it is first registered — upstream's behaviour, which libvaccel follows. The paths
    /// are checked now: each must exist (a URL must be `http://` or `https://`).
    ///
    /// # Errors
    /// [`Error::NoPaths`]; [`Error::Io`] naming a path that does not exist.
    pub fn from_paths_deferred<P: AsRef<Path>>(
        paths: &[P],
        resource_type: ResourceType,
    ) -> Result<Resource> {
        if paths.is_empty() {
            return Err(Error::NoPaths);
        }
        let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_owned()).collect();
        for p in paths.iter().filter(|p| !is_url(p)) {
            std::fs::metadata(p).map_err(|source| Error::Io {
                path: p.clone(),
                source,
            })?;
        }
        Ok(Self::unloaded(resource_type, paths))
    }

    /// Read its data now if it has not been read (a deferred resource); registering does
    /// this. Once read, its bytes never change.
    ///
    /// # Errors
    /// As [`Resource::from_paths`]: a path that can no longer be read, a failed download.
    pub fn load(&self) -> Result<()> {
        if self.inner.data.get().is_some() {
            return Ok(());
        }
        let _one = lock(&self.inner.loading);
        if self.inner.data.get().is_none() {
            let (blobs, blob_paths) = read_paths(&self.inner.paths)?;
            self.set_data(blobs, blob_paths);
        }
        Ok(())
    }

    /// Whether its data has been read.
    pub fn is_loaded(&self) -> bool {
        self.inner.data.get().is_some()
    }

    /// What plugins see of it, reading its data first if need be.
    pub(crate) fn host(&self) -> Result<&HostResource> {
        self.load()?;
        Ok(&self.inner.data.get().expect("loaded above").host)
    }

    /// A resource from a file (one blob) or a directory (one blob per regular file in it
    /// and its subdirectories, in path order).
    ///
    /// # Errors
    /// [`Error::Io`] naming the path; [`Error::EmptyDirectory`].
    pub fn from_path(path: impl AsRef<Path>, resource_type: ResourceType) -> Result<Resource> {
        Self::from_paths(&[path.as_ref()], resource_type)
    }

    /// A resource from several files, directories and/or `http://` / `https://` URLs
    /// (each downloaded now, at most [`MAX_DOWNLOAD`] bytes), blobs in the order given.
    ///
    /// # Errors
    /// As [`Resource::from_path`]; [`Error::NoPaths`] for an empty list.
    pub fn from_paths<P: AsRef<Path>>(
        paths: &[P],
        resource_type: ResourceType,
    ) -> Result<Resource> {
        let r = Self::from_paths_deferred(paths, resource_type)?;
        r.load()?;
        Ok(r)
    }

    /// A resource from bytes in memory, as one blob called `name`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty or path-like name.
    pub fn from_buffer(
        data: impl Into<Arc<[u8]>>,
        resource_type: ResourceType,
        name: &str,
    ) -> Result<Resource> {
        if name.is_empty() || name.contains('/') {
            return Err(Error::Invalid(format!(
                "blob name {name:?} must be a non-empty file name without '/'"
            )));
        }
        Ok(Self::new(
            resource_type,
            vec![HostBlob::new(name.into(), data.into())],
            Vec::new(),
            vec![None],
        ))
    }

    /// A resource from blobs already in memory (shared, hashed by the caller — the agent's
    /// content-addressed store hands the same bytes to every tenant that uploads them).
    ///
    /// # Errors
    /// [`Error::NoPaths`] for no blobs; [`Error::Invalid`] for a path-like blob name.
    pub fn from_blobs(resource_type: ResourceType, blobs: Vec<HostBlob>) -> Result<Resource> {
        if blobs.is_empty() {
            return Err(Error::NoPaths);
        }
        if let Some(b) = blobs
            .iter()
            .find(|b| b.name.is_empty() || b.name.contains('/'))
        {
            return Err(Error::Invalid(format!(
                "blob name {:?} must be a non-empty file name without '/'",
                b.name
            )));
        }
        let blob_paths = vec![None; blobs.len()];
        Ok(Self::new(resource_type, blobs, Vec::new(), blob_paths))
    }

    /// Id (> 0, unique in the process).
    pub fn id(&self) -> i64 {
        self.inner.id
    }

    /// Type.
    pub fn resource_type(&self) -> ResourceType {
        self.inner.resource_type
    }

    /// The file each blob was read from, by blob (`None` for blobs made in memory); empty
    /// until its data is read.
    pub fn blob_paths(&self) -> &[Option<PathBuf>] {
        self.inner
            .data
            .get()
            .map_or(&[], |d| d.blob_paths.as_slice())
    }

    /// Blobs; empty until its data is read ([`Resource::load`]).
    pub fn blobs(&self) -> &[HostBlob] {
        self.inner.data.get().map_or(&[], |d| &d.host.blobs)
    }

    /// The paths it was made from (empty for a buffer).
    pub fn paths(&self) -> &[PathBuf] {
        &self.inner.paths
    }

    /// Ids of the sessions it is registered with.
    pub fn sessions(&self) -> Vec<i64> {
        lock(&self.inner.sessions).clone()
    }

    /// Check it can be released: not registered with any session.
    ///
    /// # Errors
    /// [`Error::ResourceBusy`] listing the sessions.
    pub fn check_releasable(&self) -> Result<()> {
        let sessions = self.sessions();
        if sessions.is_empty() {
            Ok(())
        } else {
            Err(Error::ResourceBusy {
                resource: self.id(),
                sessions,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deferred_resource_reads_its_data_once_when_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w.bin");
        // A path that does not exist is refused at once, naming it.
        let e = Resource::from_paths_deferred(&[&f], ResourceType::Data).unwrap_err();
        assert!(e.to_string().contains("w.bin"), "{e}");
        std::fs::write(&f, b"at init").unwrap();
        let r = Resource::from_paths_deferred(&[&f], ResourceType::Data).unwrap();
        assert!(!r.is_loaded() && r.blobs().is_empty() && r.blob_paths().is_empty());
        // What the file holds when it is loaded counts ...
        std::fs::write(&f, b"at load").unwrap();
        r.load().unwrap();
        assert_eq!(&*r.blobs()[0].data, b"at load");
        assert_eq!(r.blob_paths(), [Some(f.clone())]);
        // ... and never changes after.
        std::fs::write(&f, b"later").unwrap();
        r.load().unwrap();
        assert_eq!(&*r.blobs()[0].data, b"at load");
        // A file gone by then fails the load, naming it; the resource stays unloaded.
        let gone = Resource::from_paths_deferred(&[&f], ResourceType::Data).unwrap();
        std::fs::remove_file(&f).unwrap();
        let e = gone.load().unwrap_err();
        assert!(e.to_string().contains("w.bin") && !gone.is_loaded(), "{e}");
    }

    #[test]
    fn directory_becomes_sorted_blobs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), b"bee").unwrap();
        std::fs::write(dir.path().join("a.txt"), b"ay").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let r = Resource::from_path(dir.path(), ResourceType::Data).unwrap();
        let names: Vec<&str> = r.blobs().iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "b.txt"]);
        assert_eq!(&*r.blobs()[1].data, b"bee");
        assert!(r.id() > 0);
    }

    #[test]
    fn missing_path_is_enoent_naming_it() {
        let e = Resource::from_path("/nonexistent/model.onnx", ResourceType::Model).unwrap_err();
        assert_eq!(e.code(), 2);
        assert!(e.to_string().contains("/nonexistent/model.onnx"));
    }

    #[test]
    fn empty_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = Resource::from_path(dir.path(), ResourceType::Data).unwrap_err();
        assert!(matches!(e, Error::EmptyDirectory { .. }));
    }

    #[test]
    fn buffer_names_are_checked_and_ids_unique() {
        let a = Resource::from_buffer(vec![1u8, 2], ResourceType::Data, "x.bin").unwrap();
        let b = Resource::from_buffer(vec![3u8], ResourceType::Data, "y.bin").unwrap();
        assert_ne!(a.id(), b.id());
        assert!(Resource::from_buffer(vec![1u8], ResourceType::Data, "../etc/passwd").is_err());
        assert!(Resource::from_paths::<&str>(&[], ResourceType::Data).is_err());
    }
}
