package report

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

var genAt = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// sample is a realistic small report: two frameworks, a trend over a month, open and
// waived findings, a non-ASCII tenant name and a hostile control title.
func sample() Data {
	day := func(n int) time.Time { return genAt.AddDate(0, 0, n-30) }
	var trend []TrendPoint
	for i := 0; i <= 30; i += 5 {
		trend = append(trend, TrendPoint{Date: day(i), Framework: "cis-v8",
			Score: 55 + float64(i)})
		trend = append(trend, TrendPoint{Date: day(i), Framework: "iso-27001",
			Score: 70 - float64(i)/3})
	}
	return Data{
		TenantName:  "Zürich Dental AG",
		TenantSlug:  "zuerich-dental",
		GeneratedAt: genAt,
		Score:       72.5,
		Frameworks: []Framework{
			{ID: "cis-v8", Name: "CIS Controls v8", Score: 81.3, Passed: 3, Failed: 1,
				NotApplicable: 1, Controls: []Control{
					{ID: "1.1", Title: "Establish and maintain a detailed enterprise asset " +
						"inventory", Status: StatusPass, Checks: []string{"inventory-fresh"}},
					{ID: "4.1", Title: "Establish and maintain a secure configuration process",
						Status: StatusFail, FailingAssets: []string{"srv-db-01", "fw-hq-01",
							"srv-db-01"}, Checks: []string{"tls1.0-accepted", "smbv1-enabled"}},
					{ID: "4.8", Title: "=HYPERLINK(\"http://evil.example\",\"click\")",
						Status: StatusPass, Checks: []string{"telnet-open"}},
					{ID: "12.2", Title: "Establish and maintain a secure network architecture",
						Status: StatusPass},
					{ID: "15.1", Title: "Establish and maintain an inventory of service " +
						"providers", Status: StatusNotApplicable},
				}},
			{ID: "iso-27001", Name: "ISO/IEC 27001:2022", Score: 60, Passed: 1, Failed: 1,
				Controls: []Control{
					{ID: "A.8.8", Title: "Management of technical vulnerabilities",
						Status: StatusFail, FailingAssets: []string{"Büro-PC-3"},
						Checks: []string{"os-patch-age"}},
					{ID: "A.8.20", Title: "Networks security", Status: StatusPass},
				}},
		},
		Trend: trend,
		Findings: []Finding{
			{ID: "f1", Check: "smbv1-enabled", Severity: "high", Title: "SMBv1 is enabled",
				Resource: "tcp/445", AssetName: "srv-db-01", Status: FindingOpen,
				FirstSeen: day(2), LastSeen: day(30)},
			{ID: "f2", Check: "tls1.0-accepted", Severity: "medium",
				Title: "TLS 1.0 accepted", Resource: "tcp/443", AssetName: "fw-hq-01",
				Status: FindingWaived, Waiver: "vendor fix due in Q3", FirstSeen: day(1),
				LastSeen: day(30)},
		},
	}
}

func TestWriteCSVGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "controls.golden.csv")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("csv differs from %s (go test -update rewrites it):\n%s", golden, buf.Bytes())
	}
	var again bytes.Buffer
	if err := WriteCSV(&again, sample()); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Errorf("second rendering differs (err %v)", err)
	}
}

func TestWriteCSVFormulaInjection(t *testing.T) {
	tests := []struct{ in, want string }{
		{"=1+1", "'=1+1"},
		{"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"\t=1", "'\t=1"},
		// With UseCRLF encoding/csv drops a lone \r, which would leave "=1" in front.
		{"\r=1", "'=1"},
		{"a=b", "a=b"},
		{"", ""},
		{"Zürich; \"quoted\", comma\nnewline", "Zürich; \"quoted\", comma\nnewline"},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			d := Data{Frameworks: []Framework{{ID: tt.in, Name: tt.in, Controls: []Control{{
				ID: tt.in, Title: tt.in, Status: tt.in, FailingAssets: []string{tt.in},
				Checks: []string{tt.in}}}}}}
			var buf bytes.Buffer
			if err := WriteCSV(&buf, d); err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatalf("output is not valid CSV: %v", err)
			}
			if len(recs) != 2 {
				t.Fatalf("got %d records, want header and one row", len(recs))
			}
			for i, got := range recs[1] {
				if got != tt.want {
					t.Errorf("column %s = %q, want %q", CSVHeader[i], got, tt.want)
				}
			}
		})
	}
}

// pdfTool finds a poppler tool: missing, the test skips, or fails under
// TENA_REQUIRE_PEERS=1.
func pdfTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("TENA_REQUIRE_PEERS") == "1" {
			t.Fatalf("%s is required (TENA_REQUIRE_PEERS=1): install poppler-utils: %v",
				name, err)
		}
		t.Skipf("%s not found (install poppler-utils): %v", name, err)
	}
	return path
}

func render(t testing.TB, d Data) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WritePDF(&buf, d); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pdfText returns the text of each page, as pdftotext -layout extracts it.
func pdfText(t testing.TB, pdf []byte) []string {
	t.Helper()
	tool := pdfTool(t, "pdftotext")
	path := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-enc", "UTF-8", "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\f"), "\f")
}

// pdfPages asks pdfinfo for the page count, which also checks the file's structure.
func pdfPages(t testing.TB, pdf []byte) int {
	t.Helper()
	tool := pdfTool(t, "pdfinfo")
	path := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("pdfinfo shows no page count:\n%s", out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func TestWritePDFText(t *testing.T) {
	d := sample()
	pages := pdfText(t, render(t, d))
	all := strings.Join(pages, "\n")
	for _, want := range []string{"Tenantra", "Zürich Dental AG", "zuerich-dental",
		"CIS Controls v8", "81.3%", "ISO/IEC 27001:2022", "60.0%", "72.5%", "1.1", "4.1",
		"4.8", "A.8.8", "Büro-PC-3", "fw-hq-01, srv-db-01", "Score trend",
		"Waived: vendor fix due in", "SMBv1 is enabled", "Generated 2025-03-14 09:30 UTC",
		fmt.Sprintf("Page 1 of %d", len(pages)), "2025-02-12", "2025-03-14"} {
		if !strings.Contains(all, want) {
			t.Errorf("extracted text lacks %q", want)
		}
	}
	for i, p := range pages {
		if want := fmt.Sprintf("Page %d of %d", i+1, len(pages)); !strings.Contains(p, want) {
			t.Errorf("page %d lacks footer %q", i+1, want)
		}
	}
	// Find the findings table row of the waived finding, and check it is marked waived.
	waivedRow := regexp.MustCompile(`(?m)^.*TLS 1\.0 accepted.*$`).FindString(all)
	if !strings.Contains(waivedRow, "Waived") {
		t.Errorf("waived finding row %q is not marked waived", waivedRow)
	}
}

func TestWritePDFDeterministic(t *testing.T) {
	d := sample()
	d.Logo = testPNG(t, 120, 40)
	a, b := render(t, d), render(t, d)
	if !bytes.Equal(a, b) {
		t.Fatal("two renderings of the same data differ")
	}
	if !bytes.Contains(a, []byte("/CreationDate (D:20250314093000")) {
		t.Error("creation date is not the generation time")
	}
}

func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{0x18, 0x77, 0xF2, uint8(255 * x / w)})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testJPEG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWritePDFLogo(t *testing.T) {
	gray16 := image.NewGray16(image.Rect(0, 0, 30, 30))
	var g16 bytes.Buffer
	if err := png.Encode(&g16, gray16); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		logo    []byte
		wantErr string
	}{
		{"png with alpha", testPNG(t, 200, 50), ""},
		{"tall png", testPNG(t, 10, 200), ""},
		{"16-bit png", g16.Bytes(), ""},
		{"jpeg", testJPEG(t), ""},
		{"gif bytes", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "not a PNG or JPEG"},
		{"garbage", []byte("not an image"), "not a PNG or JPEG"},
		{"truncated png", testPNG(t, 50, 50)[:60], "logo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := sample()
			d.Logo = tt.logo
			var buf bytes.Buffer
			err := WritePDF(&buf, d)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(buf.Bytes(), []byte("/Subtype /Image")) {
				t.Error("the PDF embeds no image")
			}
		})
	}
}

func TestWritePDFEmpty(t *testing.T) {
	d := Data{TenantName: "New tenant", GeneratedAt: genAt}
	pdf := render(t, d)
	if n := pdfPages(t, pdf); n < 1 {
		t.Fatalf("pages = %d", n)
	}
	all := strings.Join(pdfText(t, pdf), "\n")
	for _, want := range []string{"New tenant", "Nothing to report yet", "No score history yet",
		"No findings"} {
		if !strings.Contains(all, want) {
			t.Errorf("empty report lacks %q:\n%s", want, all)
		}
	}
}

func TestWritePDFNeedsGenerationTime(t *testing.T) {
	err := WritePDF(&bytes.Buffer{}, Data{TenantName: "x"})
	if err == nil || !strings.Contains(err.Error(), "GeneratedAt") {
		t.Fatalf("err = %v, want one naming GeneratedAt", err)
	}
}

// large is a report with n controls and n findings, with long unbroken texts.
func large(n int) Data {
	d := sample()
	fw := Framework{ID: "nist-800-53", Name: "NIST SP 800-53 Rev. 5", Score: 64.2}
	for i := range n {
		c := Control{ID: fmt.Sprintf("AC-%d", i+1), Title: fmt.Sprintf("Control %d: %s", i+1,
			strings.Repeat("account management and access enforcement ", 1+i%4)),
			Status: []string{StatusPass, StatusFail, StatusNotApplicable}[i%3]}
		if c.Status == StatusFail {
			for j := range 1 + i%7 {
				c.FailingAssets = append(c.FailingAssets, fmt.Sprintf("host-%04d-%d", i, j))
			}
			fw.Failed++
		}
		switch c.Status {
		case StatusPass:
			fw.Passed++
		case StatusNotApplicable:
			fw.NotApplicable++
		}
		fw.Controls = append(fw.Controls, c)
		d.Findings = append(d.Findings, Finding{ID: strconv.Itoa(i), Check: "check-" +
			strconv.Itoa(i%50), Severity: []string{"critical", "high", "medium", "low"}[i%4],
			Title: fmt.Sprintf("Finding %d", i), AssetName: fmt.Sprintf("host-%04d", i),
			Resource: "arn:aws:s3:::" + strings.Repeat("x", 40+i%90), Status: FindingOpen,
			FirstSeen: genAt})
	}
	// One cell far longer than a page: it must be cut, not overflow.
	fw.Controls[1].FailingAssets = nil
	for j := range 800 {
		fw.Controls[1].FailingAssets = append(fw.Controls[1].FailingAssets,
			fmt.Sprintf("workstation-%03d", j))
	}
	d.Frameworks = append(d.Frameworks, fw)
	return d
}

func TestWritePDFLarge(t *testing.T) {
	pdf := render(t, large(2000))
	n := pdfPages(t, pdf)
	if n <= 1 {
		t.Fatalf("pages = %d, want many", n)
	}
	pages := pdfText(t, pdf)
	all := strings.Join(pages, "\n")
	for _, want := range []string{"AC-1 ", "AC-2000", "Finding 1999", "more lines",
		"xxxxxxxx"} {
		if !strings.Contains(all, want) {
			t.Errorf("large report lacks %q", want)
		}
	}
	// Every page of the NIST table repeats the header row.
	tablePages := 0
	for i, p := range pages {
		if strings.Contains(p, "AC-") {
			tablePages++
			if !strings.Contains(p, "Failing assets") {
				t.Errorf("page %d continues the control table without a header row", i+1)
			}
		}
		if strings.Contains(p, "Finding 1") && !strings.Contains(p, "Asset / resource") {
			t.Errorf("page %d continues the findings table without a header row", i+1)
		}
	}
	if tablePages < 10 {
		t.Errorf("control table spans %d pages, want it split across many", tablePages)
	}
	t.Logf("2,000 controls + 2,000 findings: %d pages, %d bytes", n, len(pdf))
}

func BenchmarkWritePDF(b *testing.B) {
	d := large(300)
	d.Logo = testPNG(b, 200, 60)
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := WritePDF(&buf, d); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(buf.Len()))
	}
}

func BenchmarkWriteCSV(b *testing.B) {
	d := large(2000)
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := WriteCSV(&buf, d); err != nil {
			b.Fatal(err)
		}
	}
}
