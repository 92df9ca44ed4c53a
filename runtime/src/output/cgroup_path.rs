//! The text of `cgroup_path(id)`, as the current release prints it: every mounted cgroup
//! hierarchy (from /proc/mounts) searched for the directory whose inode number is the id,
//! each found one as `name:/path` (`unified` for cgroup v2, the mount point's last component
//! for a v1 hierarchy), v2 first, then v1 by name, joined by `,`. Like `username`, it reads
//! the machine when the value is printed, so an id reassigned since the event names the new
//! cgroup, as the current release documents.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Paths found before, per (id, hierarchy root): checked again by their inode before use.
static FOUND: Mutex<Option<HashMap<(u64, PathBuf), String>>> = Mutex::new(None);

pub fn text(id: u64) -> Vec<u8> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let (mut v2, mut v1) = (Vec::new(), Vec::new());
    for (version, root) in hierarchies(&mounts) {
        let Some(path) = path_in(id, &root) else {
            continue;
        };
        match version {
            Version::Two => v2.push(("unified".to_string(), path)),
            Version::One => {
                let name = root
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                v1.push((name, path));
            }
        }
    }
    v1.sort();
    v2.into_iter()
        .chain(v1)
        .map(|(name, path)| format!("{name}:{path}"))
        .collect::<Vec<_>>()
        .join(",")
        .into_bytes()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    One,
    Two,
}

/// The cgroup mounts of /proc/mounts' text that are directories here, in its order.
fn hierarchies(mounts: &str) -> Vec<(Version, PathBuf)> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let (_source, target, kind) = (fields.next()?, fields.next()?, fields.next()?);
            let version = match kind {
                "cgroup" => Version::One,
                "cgroup2" => Version::Two,
                _ => return None,
            };
            let root = PathBuf::from(unescape(target));
            root.is_dir().then_some((version, root))
        })
        .collect()
}

/// /proc/mounts writes a space, tab, newline and backslash in a path as octal escapes.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path, from the hierarchy's root (`/` for the root itself), of the cgroup directory
/// whose inode number is `id`.
fn path_in(id: u64, root: &Path) -> Option<String> {
    let key = (id, root.to_path_buf());
    let mut found = FOUND.lock().unwrap_or_else(|p| p.into_inner());
    let cache = found.get_or_insert_with(HashMap::new);
    if let Some(path) = cache.get(&key) {
        let still = root.join(path.trim_start_matches('/'));
        if std::fs::metadata(&still).is_ok_and(|m| m.ino() == id) {
            return Some(path.clone());
        }
    }
    let path = if std::fs::metadata(root).ok()?.ino() == id {
        "/".to_string()
    } else {
        let dir = search(id, root)?;
        format!("/{}", dir.strip_prefix(root).ok()?.display())
    };
    cache.insert(key, path.clone());
    Some(path)
}

/// The directory under `dir` (depth first, symbolic links not followed) whose inode is `id`.
fn search(id: u64, dir: &Path) -> Option<PathBuf> {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if !kind.is_dir() {
                continue;
            }
            if entry.metadata().is_ok_and(|m| m.ino() == id) {
                return Some(entry.path());
            }
            pending.push(entry.path());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cgroup_mounts_in_order() {
        let mounts = "tmpfs /tmp tmpfs rw 0 0\n\
                      cgroup /tmp cgroup rw,cpu 0 0\n\
                      cgroup2 /tmp cgroup2 rw 0 0\n\
                      cgroup /no/such/dir cgroup rw 0 0\n";
        assert_eq!(
            hierarchies(mounts),
            [
                (Version::One, PathBuf::from("/tmp")),
                (Version::Two, PathBuf::from("/tmp"))
            ]
        );
        assert_eq!(unescape(r"/a\040b\134c"), r"/a b\c");
    }

    #[test]
    fn finds_a_directory_by_its_inode() {
        let root = std::env::temp_dir().join(format!("tb-cgroup-path-{}", std::process::id()));
        let deep = root.join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        let ino = std::fs::metadata(&deep).unwrap().ino();
        assert_eq!(path_in(ino, &root).as_deref(), Some("/a/b"));
        let top = std::fs::metadata(&root).unwrap().ino();
        assert_eq!(path_in(top, &root).as_deref(), Some("/"));
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(path_in(ino, &root), None);
    }

    #[test]
    fn names_this_process_cgroup_in_the_unified_hierarchy() {
        // The cgroup v2 id of a cgroup is its directory's inode in cgroup2.
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
        let Some((_, root)) = hierarchies(&mounts)
            .into_iter()
            .find(|(v, _)| *v == Version::Two)
        else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no cgroup2 mounted"
            );
            return;
        };
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let path = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .expect("a cgroup v2 line");
        let ino = std::fs::metadata(root.join(path.trim_start_matches('/')))
            .unwrap()
            .ino();
        let text = String::from_utf8(text(ino)).unwrap();
        assert!(
            text.split(',').any(|p| p == format!("unified:{path}")),
            "{text} lacks unified:{path}"
        );
    }
}
