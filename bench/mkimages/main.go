// Command mkimages writes the images bench/compare.sh measures, on top of
// the Debian test image's layer (a plain tar, as the image tests cache it):
//
//	mkimages files  -base LAYER.tar -n 200000 -o OUT.tar   # Debian + one layer of n files
//	mkimages dir    -base LAYER.tar -dir DIR -o OUT.tar    # Debian + a layer holding DIR
//	mkimages shared -base LAYER.tar -n 100 -o OUTDIR       # OCI layout: n images sharing the base
//
// files and dir write a docker-archive (`docker save` layout: manifest.json,
// the config, one uncompressed <n>/layer.tar per layer); shared writes an
// OCI image layout whose images app-0 … app-(n-1) share one base blob.
package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fl := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	base := fl.String("base", "", "base layer tar (uncompressed)")
	out := fl.String("o", "", "output archive (or directory for shared)")
	n := fl.Int("n", 0, "number of files (files) or images (shared)")
	dir := fl.String("dir", "", "directory to add as a layer (dir)")
	fl.Parse(os.Args[2:])
	if *base == "" || *out == "" {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "files":
		err = writeImage(*out, *base, "files", func(tw *tar.Writer) error { return manyFiles(tw, *n) })
	case "dir":
		err = writeImage(*out, *base, "dir", func(tw *tar.Writer) error { return addDir(tw, *dir) })
	case "shared":
		err = shared(*out, *base, *n)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimages:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mkimages files|dir|shared -base LAYER.tar -o OUT [-n N] [-dir DIR]")
	os.Exit(2)
}

var epoch = time.Unix(1700000000, 0)

// manyFiles writes n small files (sizes 1–15 KiB, ~7.5 KiB on average) in
// directories of 1,000.
func manyFiles(tw *tar.Writer, n int) error {
	body := []byte(strings.Repeat("lockdown benchmark data, not a real file. ", 400))
	for i := range n {
		if i%1000 == 0 {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("srv/data/d%04d/", i/1000), Mode: 0o755, ModTime: epoch}); err != nil {
				return err
			}
		}
		size := 1024 + (i*7919)%(14*1024)
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("srv/data/d%04d/f%07d.txt", i/1000, i), Mode: 0o644, Size: int64(size), ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(body[:size]); err != nil {
			return err
		}
	}
	return nil
}

// addDir writes the tree at root (regular files, directories, symlinks)
// under its own absolute path.
func addDir(tw *tar.Writer, root string) error {
	root = filepath.Clean(root)
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = strings.TrimPrefix(p, "/")
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname, hdr.ModTime = "", "", epoch
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
}

// writeLayer writes a layer tar made by fill to path and returns its diff ID.
func writeLayer(path string, fill func(*tar.Writer) error) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(f, h))
	if err := fill(tw); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), f.Close()
}

func fileDiffID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// writeImage writes a docker-archive of the base layer plus one layer.
func writeImage(out, base, name string, fill func(*tar.Writer) error) error {
	tmp := out + ".layer"
	defer os.Remove(tmp)
	top, err := writeLayer(tmp, fill)
	if err != nil {
		return err
	}
	baseID, err := fileDiffID(base)
	if err != nil {
		return err
	}
	return writeArchive(out, "lockdown-bench/"+name+":latest", []string{base, tmp}, []string{baseID, top})
}

// shared writes an OCI image layout in dir holding n images, each the
// base layer plus one small layer of its own (a dpkg status.d file), named
// app-0 … app-(n-1); the base layer blob is stored once.
func shared(dir, base string, n int) error {
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return err
	}
	baseID, err := fileDiffID(base)
	if err != nil {
		return err
	}
	st, err := os.Stat(base)
	if err != nil {
		return err
	}
	baseBlob := filepath.Join(blobs, strings.TrimPrefix(baseID, "sha256:"))
	if err := os.Link(base, baseBlob); err != nil && !os.IsExist(err) {
		if err := copyFile(base, baseBlob); err != nil {
			return err
		}
	}
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int64             `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	blob := func(b []byte, mt string) (desc, error) {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		return desc{MediaType: mt, Digest: "sha256:" + h, Size: int64(len(b))}, os.WriteFile(filepath.Join(blobs, h), b, 0o644)
	}
	const layerType = "application/vnd.oci.image.layer.v1.tar"
	var manifests []desc
	for i := range n {
		var buf strings.Builder
		tw := tar.NewWriter(&buf)
		body := fmt.Sprintf("Package: app-%d\nStatus: install ok installed\nVersion: 1.0.%d\nArchitecture: all\n\n", i, i)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "var/lib/dpkg/status.d/app", Mode: 0o644, Size: int64(len(body)), ModTime: epoch}); err != nil {
			return err
		}
		io.WriteString(tw, body)
		tw.Close()
		top, err := blob([]byte(buf.String()), layerType)
		if err != nil {
			return err
		}
		cfg, err := json.Marshal(map[string]any{
			"architecture": "amd64", "os": "linux",
			"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{baseID, top.Digest}},
			"history": []map[string]any{{"created_by": "debian"}, {"created_by": fmt.Sprintf("COPY app-%d", i)}},
		})
		if err != nil {
			return err
		}
		cd, err := blob(cfg, "application/vnd.oci.image.config.v1+json")
		if err != nil {
			return err
		}
		m, err := json.Marshal(map[string]any{
			"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cd,
			"layers": []desc{{MediaType: layerType, Digest: baseID, Size: st.Size()}, top},
		})
		if err != nil {
			return err
		}
		md, err := blob(m, "application/vnd.oci.image.manifest.v1+json")
		if err != nil {
			return err
		}
		md.Annotations = map[string]string{"org.opencontainers.image.ref.name": fmt.Sprintf("app-%d", i)}
		manifests = append(manifests, md)
	}
	idx, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// writeArchive writes a docker save archive of the given layer tars.
func writeArchive(out, tag string, layers, diffIDs []string) error {
	var history []map[string]any
	for i := range layers {
		history = append(history, map[string]any{"created_by": fmt.Sprintf("layer %d", i)})
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs":  map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history": history,
	})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(sum[:]) + ".json"
	var paths []string
	for i := range layers {
		paths = append(paths, fmt.Sprintf("%03d/layer.tar", i))
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{tag}, "Layers": paths}})
	if err != nil {
		return err
	}
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(out + ".tmp")
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: epoch}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	if err := add(cfgName, int64(len(cfg)), strings.NewReader(string(cfg))); err != nil {
		return err
	}
	for i, p := range layers {
		lf, err := os.Open(p)
		if err != nil {
			return err
		}
		st, err := lf.Stat()
		if err == nil {
			err = add(paths[i], st.Size(), lf)
		}
		lf.Close()
		if err != nil {
			return err
		}
	}
	if err := add("manifest.json", int64(len(manifest)), strings.NewReader(string(manifest))); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(out+".tmp", out)
}
