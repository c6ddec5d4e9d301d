package appliance

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/backup"
)

// ExportFormats are the formats of a tenant export.
var ExportFormats = []string{"csv", "json"}

// ExportManifest lists the files of a plain export with their sizes and SHA-256 sums.
type ExportManifest struct {
	Tenant   string        `json:"tenant"`
	Format   string        `json:"format"`
	Created  time.Time     `json:"created"`
	Sections []string      `json:"sections"`
	Files    []ExportEntry `json:"files"`
}

// ExportEntry is one file of an export.
type ExportEntry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// exportSection writes one kind of record of a tenant. Later issues add theirs (findings,
// compliance results) to Appliance.exportSections.
type exportSection struct {
	name  string
	write func(ctx context.Context, t store.Tenant, format string, w io.Writer) error
}

func (a *Appliance) exportSections() []exportSection {
	return []exportSection{
		{"tenant", a.exportTenant},
		{"assets", a.exportAssets},
		{"services", a.exportServices},
		{"audit", a.exportAudit},
	}
}

// Export writes one tenant's data for portability: a tar stream of one file per section
// (tenant, assets, services, audit log — and what later issues add) plus MANIFEST.json with
// sums, or, with a passphrase, the same files in a sealed archive. Files are staged in the
// data dir first so that a failure part-way leaves nothing half-written for the caller.
func (a *Appliance) Export(ctx context.Context, tenantRef, format string, passphrase []byte,
	w io.Writer) error {
	if format != "csv" && format != "json" {
		return store.Errorf(store.ErrInvalid, "export format %q is unknown; use csv or json",
			format)
	}
	t, err := a.store.GetTenant(ctx, tenantRef)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(a.cfg.DataDir, ".export-")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	man := ExportManifest{Tenant: t.Slug, Format: format, Created: time.Now().UTC()}
	for _, sec := range a.exportSections() {
		name := sec.name + "." + format
		if sec.name == "tenant" {
			name = "tenant.json"
		}
		path := filepath.Join(tmp, name)
		h := sha256.New()
		var size int64
		err := writeTo(path, func(f io.Writer) error {
			cw := &countWriter{w: io.MultiWriter(f, h)}
			err := sec.write(ctx, t, format, cw)
			size = cw.n
			return err
		})
		if err != nil {
			return fmt.Errorf("export %s: %w", sec.name, err)
		}
		man.Sections = append(man.Sections, sec.name)
		man.Files = append(man.Files, ExportEntry{Name: name, Size: size,
			SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	a.audit(ctx, t.ID, "tenant.export", t.Slug, "success", map[string]any{"format": format,
		"sealed": len(passphrase) > 0})
	if len(passphrase) > 0 {
		bw, err := backup.NewWriter(w, backup.Sealing{Passphrase: passphrase},
			map[string]string{"kind": "export", "tenant": t.Slug, "format": format})
		if err != nil {
			return err
		}
		for _, e := range man.Files {
			if err := addFile(bw, tmp, e); err != nil {
				return err
			}
		}
		return bw.Close()
	}
	tw := tar.NewWriter(w)
	for _, e := range man.Files {
		if err := tarFile(tw, tmp, e); err != nil {
			return err
		}
	}
	mj, _ := json.MarshalIndent(man, "", "  ")
	if err := tw.WriteHeader(&tar.Header{Name: "MANIFEST.json", Mode: 0o600,
		Size: int64(len(mj)), ModTime: man.Created}); err != nil {
		return err
	}
	if _, err := tw.Write(mj); err != nil {
		return err
	}
	return tw.Close()
}

func addFile(bw *backup.Writer, dir string, e ExportEntry) error {
	f, err := os.Open(filepath.Join(dir, e.Name))
	if err != nil {
		return err
	}
	defer f.Close()
	return bw.Add(e.Name, e.Size, f)
}

func tarFile(tw *tar.Writer, dir string, e ExportEntry) error {
	f, err := os.Open(filepath.Join(dir, e.Name))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(&tar.Header{Name: e.Name, Mode: 0o600, Size: e.Size,
		ModTime: time.Now().UTC()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

func (a *Appliance) exportTenant(_ context.Context, t store.Tenant, _ string,
	w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

// records streams rows as CSV (with header) or as a JSON array, one element at a time, so an
// export of a large tenant needs no more memory than one row.
type records struct {
	format string
	w      io.Writer
	cw     *csv.Writer
	n      int
}

func newRecords(format string, w io.Writer, header []string) (*records, error) {
	r := &records{format: format, w: w}
	if format == "csv" {
		r.cw = csv.NewWriter(w)
		return r, r.cw.Write(header)
	}
	_, err := io.WriteString(w, "[")
	return r, err
}

func (r *records) add(row []string, v any) error {
	if r.cw != nil {
		return r.cw.Write(row)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sep := ",\n  "
	if r.n == 0 {
		sep = "\n  "
	}
	r.n++
	_, err = io.WriteString(r.w, sep+string(b))
	return err
}

func (r *records) close() error {
	if r.cw != nil {
		r.cw.Flush()
		return r.cw.Error()
	}
	end := "\n]\n"
	if r.n == 0 {
		end = "]\n"
	}
	_, err := io.WriteString(r.w, end)
	return err
}

func (a *Appliance) exportAssets(ctx context.Context, t store.Tenant, format string,
	w io.Writer) error {
	tdb, release, err := a.store.TenantDB(ctx, t.ID)
	if err != nil {
		return err
	}
	defer release()
	rec, err := newRecords(format, w, store.AssetCSVHeader)
	if err != nil {
		return err
	}
	if err := tdb.EachAsset(ctx, func(as store.Asset) error {
		return rec.add(as.CSVRecord(), as)
	}); err != nil {
		return err
	}
	return rec.close()
}

func (a *Appliance) exportAudit(ctx context.Context, t store.Tenant, format string,
	w io.Writer) error {
	rec, err := newRecords(format, w, store.AuditCSVHeader)
	if err != nil {
		return err
	}
	err = a.withTenantDB(ctx, t.ID, func(l store.AuditLog) error {
		return l.Scan(ctx, func(e store.AuditEvent) error { return rec.add(e.CSVRecord(), e) })
	})
	if err != nil {
		return err
	}
	return rec.close()
}

// assetService is one row of the services export.
type assetService struct {
	AssetID string `json:"asset_id"`
	store.Service
}

func (a *Appliance) exportServices(ctx context.Context, t store.Tenant, format string,
	w io.Writer) error {
	tdb, release, err := a.store.TenantDB(ctx, t.ID)
	if err != nil {
		return err
	}
	defer release()
	rec, err := newRecords(format, w, store.ServiceCSVHeader)
	if err != nil {
		return err
	}
	if err := tdb.EachService(ctx, func(id string, s store.Service) error {
		return rec.add(s.CSVRecord(id), assetService{AssetID: id, Service: s})
	}); err != nil {
		return err
	}
	return rec.close()
}
