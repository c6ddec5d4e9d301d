package report

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-pdf/fpdf"
)

// Page geometry in millimetres (A4 portrait).
const (
	pageW        = 210.0
	marginX      = 15.0
	marginTop    = 30.0 // below the branded header
	marginBottom = 18.0 // above the footer
	contentW     = pageW - 2*marginX
	lineH        = 4.2 // table text line height at 8.5 pt
	cellPad      = 1.2 // vertical padding inside a table row
	// maxCellLines caps one table cell so that a row always fits on a page; what does not
	// fit is summarised as "… and N more lines" (the CSV export carries everything).
	maxCellLines = 30
	// maxLogoSide bounds the logo's decoded size: it is tenant-supplied, and a small PNG can
	// claim a huge canvas.
	maxLogoSide = 4096
)

type rgb struct{ r, g, b int }

var (
	brandBlue  = rgb{0x18, 0x77, 0xF2} // Facebook blue, the Tenantra accent
	textDark   = rgb{0x1C, 0x1E, 0x21}
	textMuted  = rgb{0x65, 0x67, 0x6B}
	ruleGrey   = rgb{0xCE, 0xD0, 0xD4}
	gridGrey   = rgb{0xE4, 0xE6, 0xEB}
	stripeGrey = rgb{0xF5, 0xF6, 0xF7}
	passGreen  = rgb{0x1E, 0x8E, 0x3E}
	failRed    = rgb{0xD9, 0x30, 0x25}
	warnOrange = rgb{0xE0, 0x7A, 0x00}
	// seriesColours tell the trend chart's lines apart; they cycle beyond six frameworks.
	seriesColours = []rgb{brandBlue, {0x42, 0xB7, 0x2A}, {0xF7, 0x9F, 0x1A},
		{0x8B, 0x5C, 0xF6}, {0xFA, 0x38, 0x3E}, {0x14, 0xB8, 0xA6}}
)

// WritePDF renders d as a branded A4 PDF: header with the tenant's name and logo, a score
// summary, the score trend chart, one control table per framework, the findings and a
// footer with page numbers and the generation time. Text uses the PDF core fonts, so it
// stays extractable; characters outside Windows-1252 print as ".". The same Data always
// gives the same bytes: the document dates come from d.GeneratedAt, which must be set.
func WritePDF(w io.Writer, d Data) error {
	if d.GeneratedAt.IsZero() {
		return errors.New("render report pdf: GeneratedAt is not set; pass the report's " +
			"generation time")
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	r := &renderer{pdf: pdf, d: d, tr: pdf.UnicodeTranslatorFromDescriptor("")}
	gen := d.GeneratedAt.UTC()
	pdf.SetCreationDate(gen)
	pdf.SetModificationDate(gen)
	pdf.SetCatalogSort(true)
	pdf.SetTitle("Compliance report: "+d.TenantName, true)
	pdf.SetSubject("Compliance report", true)
	pdf.SetCreator("Tenantra", true)
	pdf.SetAuthor("Tenantra", true)
	pdf.SetMargins(marginX, marginTop, marginX)
	pdf.SetAutoPageBreak(true, marginBottom)
	pdf.AliasNbPages("{nb}")
	if len(d.Logo) > 0 {
		if err := r.registerLogo(d.Logo); err != nil {
			return err
		}
	}
	pdf.SetHeaderFuncMode(r.header, false)
	pdf.SetFooterFunc(r.footer)

	pdf.AddPage()
	r.title()
	r.summary()
	r.trend()
	for _, fw := range d.Frameworks {
		r.framework(fw)
	}
	r.findings()
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("render report pdf: %w", err)
	}
	return nil
}

// renderer holds one document being drawn.
type renderer struct {
	pdf   *fpdf.Fpdf
	d     Data
	tr    func(string) string // UTF-8 → cp1252 for the core fonts
	logoW float64             // logo width in mm at the header's height, 0 without a logo
}

// text prepares a string for the core fonts: control characters other than a newline become
// spaces (they would print as garbage), then the text is translated to cp1252.
func (r *renderer) text(s string) string {
	s = strings.Map(func(c rune) rune {
		if c == '\n' {
			return c
		}
		if c < 0x20 || c == 0x7F {
			return ' '
		}
		return c
	}, s)
	return r.tr(s)
}

func (r *renderer) font(style string, size float64, c rgb) {
	r.pdf.SetFont("Helvetica", style, size)
	r.pdf.SetTextColor(c.r, c.g, c.b)
}

const logoName = "tenant-logo"

// registerLogo embeds the tenant logo. JPEG goes in as is; PNG is decoded and re-encoded as
// 8-bit RGBA because fpdf's PNG reader rejects interlaced and 16-bit files that browsers
// show fine.
func (r *renderer) registerLogo(logo []byte) error {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(logo))
	if err != nil || (format != "png" && format != "jpeg") {
		return errors.New("render report pdf: the tenant logo is not a PNG or JPEG image; " +
			"upload the logo again as PNG or JPEG")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxLogoSide ||
		cfg.Height > maxLogoSide {
		return fmt.Errorf("render report pdf: the tenant logo is %dx%d pixels; upload one "+
			"at most %d pixels on each side", cfg.Width, cfg.Height, maxLogoSide)
	}
	opts := fpdf.ImageOptions{ImageType: "jpg"}
	data := logo
	if format == "png" {
		img, err := png.Decode(bytes.NewReader(logo))
		if err != nil {
			return fmt.Errorf("render report pdf: decode the tenant logo: %w; upload it "+
				"again", err)
		}
		rgba := image.NewNRGBA(img.Bounds())
		draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
		var buf bytes.Buffer
		if err := png.Encode(&buf, rgba); err != nil {
			return fmt.Errorf("render report pdf: re-encode the tenant logo: %w", err)
		}
		data, opts.ImageType = buf.Bytes(), "png"
	} else if _, err := jpeg.DecodeConfig(bytes.NewReader(logo)); err != nil {
		return fmt.Errorf("render report pdf: read the tenant logo: %w", err)
	}
	info := r.pdf.RegisterImageOptionsReader(logoName, opts, bytes.NewReader(data))
	if err := r.pdf.Error(); err != nil || info == nil {
		return fmt.Errorf("render report pdf: embed the tenant logo: %v; upload it again "+
			"as a plain PNG or JPEG", err)
	}
	// Fit into a 40 x 14 mm box, keeping the aspect ratio.
	const boxW, boxH = 40.0, 14.0
	aspect := float64(cfg.Width) / float64(cfg.Height)
	r.logoW = min(boxW, boxH*aspect)
	return nil
}

// header draws the branded band on every page.
func (r *renderer) header() {
	p := r.pdf
	p.SetFillColor(brandBlue.r, brandBlue.g, brandBlue.b)
	p.Rect(0, 0, pageW, 3, "F")
	p.SetXY(marginX, 8)
	r.font("B", 16, brandBlue)
	p.CellFormat(60, 7, "Tenantra", "", 2, "L", false, 0, "")
	r.font("", 9, textMuted)
	p.CellFormat(60, 5, "Compliance report", "", 0, "L", false, 0, "")

	right := pageW - marginX
	if r.logoW > 0 {
		h := 14.0
		if r.logoW < 40 {
			p.ImageOptions(logoName, right-r.logoW, 6.5, 0, h, false,
				fpdf.ImageOptions{}, 0, "")
		} else {
			p.ImageOptions(logoName, right-r.logoW, 6.5, r.logoW, 0, false,
				fpdf.ImageOptions{}, 0, "")
		}
		right -= r.logoW + 4
	}
	r.font("B", 11, textDark)
	nameW := right - (marginX + 62)
	p.SetXY(marginX+62, 10)
	p.CellFormat(nameW, 6, r.fit(r.text(r.d.TenantName), nameW), "", 0, "R", false, 0, "")
	p.SetDrawColor(ruleGrey.r, ruleGrey.g, ruleGrey.b)
	p.SetLineWidth(0.3)
	p.Line(marginX, 23, pageW-marginX, 23)
	p.SetXY(marginX, marginTop)
}

// fit shortens already translated text with an ellipsis so it fits in w millimetres.
func (r *renderer) fit(s string, w float64) string {
	if r.pdf.GetStringWidth(s) <= w-2 {
		return s
	}
	ell := r.tr("…")
	for len(s) > 0 && r.pdf.GetStringWidth(s+ell) > w-2 {
		s = s[:len(s)-1]
	}
	return s + ell
}

func (r *renderer) footer() {
	p := r.pdf
	p.SetY(-12)
	p.SetDrawColor(ruleGrey.r, ruleGrey.g, ruleGrey.b)
	p.SetLineWidth(0.2)
	p.Line(marginX, p.GetY()-1, pageW-marginX, p.GetY()-1)
	r.font("", 7.5, textMuted)
	gen := r.d.GeneratedAt.UTC().Format("2006-01-02 15:04 UTC")
	p.CellFormat(contentW/2, 5, "Generated "+gen+" by Tenantra", "", 0, "L", false, 0, "")
	p.CellFormat(contentW/2, 5, fmt.Sprintf("Page %d of {nb}", p.PageNo()), "", 0, "R",
		false, 0, "")
}

func (r *renderer) heading(s string) {
	p := r.pdf
	p.Ln(3)
	r.font("B", 13, textDark)
	p.Bookmark(r.text(s), 0, -1)
	p.MultiCell(contentW, 6.5, r.text(s), "", "L", false)
	p.SetDrawColor(brandBlue.r, brandBlue.g, brandBlue.b)
	p.SetLineWidth(0.6)
	p.Line(marginX, p.GetY()+0.5, marginX+20, p.GetY()+0.5)
	p.Ln(3)
}

func (r *renderer) paragraph(s string, c rgb) {
	r.font("", 9.5, c)
	r.pdf.MultiCell(contentW, 5, r.text(s), "", "L", false)
}

// ensure starts a new page unless h millimetres are left above the bottom margin.
func (r *renderer) ensure(h float64) {
	_, pageH := r.pdf.GetPageSize()
	if r.pdf.GetY()+h > pageH-marginBottom {
		r.pdf.AddPage()
	}
}

func (r *renderer) title() {
	p := r.pdf
	r.font("B", 20, textDark)
	p.MultiCell(contentW, 9, r.text(r.d.TenantName), "", "L", false)
	r.font("", 9.5, textMuted)
	meta := "Generated " + r.d.GeneratedAt.UTC().Format("2 January 2006, 15:04 UTC")
	if r.d.TenantSlug != "" {
		meta = "Tenant " + r.d.TenantSlug + " · " + meta
	}
	p.MultiCell(contentW, 5, r.text(meta), "", "L", false)
	p.Ln(2)
}

// pct formats a score; a NaN or infinite score (nothing evaluated) reads "n/a".
func pct(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "%"
}

func scoreColour(v float64) rgb {
	switch {
	case math.IsNaN(v):
		return textMuted
	case v >= 80:
		return passGreen
	case v >= 50:
		return warnOrange
	}
	return failRed
}

func (r *renderer) summary() {
	p := r.pdf
	r.heading("Summary")
	if len(r.d.Frameworks) == 0 {
		r.paragraph("Nothing to report yet: no compliance framework has been evaluated for "+
			"this tenant. Scores, controls and trends appear here after the first scan with "+
			"compliance checks.", textMuted)
		return
	}
	r.font("", 10, textMuted)
	p.CellFormat(35, 10, "Overall score", "", 0, "L", false, 0, "")
	r.font("B", 22, scoreColour(r.d.Score))
	p.CellFormat(50, 10, pct(r.d.Score), "", 1, "L", false, 0, "")
	p.Ln(3)
	cols := []column{{"Framework", 80, "L"}, {"Score", 25, "R"}, {"Passed", 25, "R"},
		{"Failed", 25, "R"}, {"Not applicable", 25, "R"}}
	rows := make([][]cell, 0, len(r.d.Frameworks))
	for _, fw := range r.d.Frameworks {
		rows = append(rows, []cell{{text: fw.Name, bold: true},
			{text: pct(fw.Score), colour: scoreColour(fw.Score), bold: true},
			{text: strconv.Itoa(fw.Passed), colour: passGreen},
			{text: strconv.Itoa(fw.Failed), colour: failRed},
			{text: strconv.Itoa(fw.NotApplicable), colour: textMuted}})
	}
	r.table(cols, rows)
}

// column is one table column; align is "L", "C" or "R".
type column struct {
	title string
	w     float64
	align string
}

// cell is one table cell's text and style; the zero colour is the default text colour.
type cell struct {
	text   string
	colour rgb
	bold   bool
}

func (r *renderer) tableHeader(cols []column) {
	p := r.pdf
	r.font("B", 8.5, rgb{0xFF, 0xFF, 0xFF})
	p.SetFillColor(brandBlue.r, brandBlue.g, brandBlue.b)
	for _, c := range cols {
		p.CellFormat(c.w, 6, c.title, "", 0, c.align, true, 0, "")
	}
	p.Ln(6)
}

// table draws rows under cols, wrapping each cell, starting a new page (with the header row
// again) whenever the next row does not fit.
func (r *renderer) table(cols []column, rows [][]cell) {
	p := r.pdf
	_, pageH := p.GetPageSize()
	bottom := pageH - marginBottom
	lines := make([][]string, len(cols))
	page := p.PageNo()
	for i, row := range rows {
		n := 1
		for j, c := range cols {
			lines[j] = r.wrap(row[j], c.w)
			n = max(n, len(lines[j]))
		}
		h := float64(n)*lineH + 2*cellPad
		// The header row goes with the first row, and again after each page break.
		if i == 0 && p.GetY()+6+h > bottom || i > 0 && p.GetY()+h > bottom {
			p.AddPage()
		}
		if i == 0 || p.PageNo() != page {
			r.tableHeader(cols)
			page = p.PageNo()
		}
		x, y := marginX, p.GetY()
		if i%2 == 1 {
			p.SetFillColor(stripeGrey.r, stripeGrey.g, stripeGrey.b)
			p.Rect(x, y, contentW, h, "F")
		}
		for j, c := range cols {
			cl := row[j]
			style := ""
			if cl.bold {
				style = "B"
			}
			colour := cl.colour
			if colour == (rgb{}) {
				colour = textDark
			}
			r.font(style, 8.5, colour)
			for k, l := range lines[j] {
				p.SetXY(x, y+cellPad+float64(k)*lineH)
				p.CellFormat(c.w, lineH, l, "", 0, c.align, false, 0, "")
			}
			x += c.w
		}
		p.SetDrawColor(gridGrey.r, gridGrey.g, gridGrey.b)
		p.SetLineWidth(0.2)
		p.Line(marginX, y+h, marginX+contentW, y+h)
		p.SetXY(marginX, y+h)
	}
}

// wrap splits a cell's text into lines that fit the column, capped at maxCellLines.
func (r *renderer) wrap(c cell, w float64) []string {
	style := ""
	if c.bold {
		style = "B"
	}
	r.pdf.SetFont("Helvetica", style, 8.5)
	raw := r.pdf.SplitLines([]byte(r.text(c.text)), w)
	lines := make([]string, 0, min(len(raw), maxCellLines))
	for i, l := range raw {
		if i == maxCellLines-1 && len(raw) > maxCellLines {
			more := len(raw) - i
			lines = append(lines, r.tr(fmt.Sprintf("… and %d more lines", more)))
			break
		}
		lines = append(lines, string(l))
	}
	if len(lines) == 0 {
		lines = append(lines, "")
	}
	return lines
}

// series is one framework's line in the trend chart.
type series struct {
	name   string
	points []TrendPoint
}

// trendSeries groups the trend by framework, in the order of d.Frameworks and then by
// name for points of frameworks the report does not list, each series sorted by date.
func (r *renderer) trendSeries() []series {
	byKey := map[string][]TrendPoint{}
	for _, tp := range r.d.Trend {
		if math.IsNaN(tp.Score) || tp.Date.IsZero() {
			continue
		}
		byKey[tp.Framework] = append(byKey[tp.Framework], tp)
	}
	var out []series
	take := func(key, name string) {
		if pts, ok := byKey[key]; ok {
			slices.SortStableFunc(pts, func(a, b TrendPoint) int { return a.Date.Compare(b.Date) })
			out = append(out, series{name: name, points: pts})
			delete(byKey, key)
		}
	}
	for _, fw := range r.d.Frameworks {
		take(fw.ID, fw.Name)
		take(fw.Name, fw.Name)
	}
	rest := make([]string, 0, len(byKey))
	for k := range byKey {
		rest = append(rest, k)
	}
	slices.Sort(rest)
	for _, k := range rest {
		take(k, k)
	}
	return out
}

// trend draws the score history: scores 0–100 over dates, one line per framework.
func (r *renderer) trend() {
	p := r.pdf
	ss := r.trendSeries()
	if len(ss) == 0 {
		r.ensure(25)
		r.heading("Score trend")
		r.paragraph("No score history yet: the trend appears once compliance has been "+
			"evaluated on more than one day.", textMuted)
		return
	}
	const chartH, labelW = 62.0, 12.0
	legendRows := 1 + len(ss)/4
	r.ensure(16 + chartH + 12 + float64(legendRows)*5)
	r.heading("Score trend")
	x0, y0 := marginX+labelW, p.GetY()+2
	w := contentW - labelW - 4
	first, last := ss[0].points[0].Date, ss[0].points[0].Date
	for _, s := range ss {
		first = minTime(first, s.points[0].Date)
		last = maxTime(last, s.points[len(s.points)-1].Date)
	}
	span := last.Sub(first).Seconds()
	xAt := func(t time.Time) float64 {
		if span <= 0 {
			return x0 + w/2
		}
		return x0 + w*t.Sub(first).Seconds()/span
	}
	yAt := func(v float64) float64 { return y0 + chartH*(1-math.Max(0, math.Min(100, v))/100) }

	// Grid and y labels.
	p.SetLineWidth(0.2)
	for v := 0.0; v <= 100; v += 25 {
		p.SetDrawColor(gridGrey.r, gridGrey.g, gridGrey.b)
		p.Line(x0, yAt(v), x0+w, yAt(v))
		r.font("", 7.5, textMuted)
		p.SetXY(marginX, yAt(v)-2)
		p.CellFormat(labelW-1.5, 4, strconv.Itoa(int(v)), "", 0, "R", false, 0, "")
	}
	p.SetDrawColor(textMuted.r, textMuted.g, textMuted.b)
	p.SetLineWidth(0.3)
	p.Line(x0, y0, x0, y0+chartH)
	p.Line(x0, y0+chartH, x0+w, y0+chartH)

	// X ticks: up to six dates, evenly spaced.
	ticks := 6
	if span <= 0 {
		ticks = 1
	}
	for i := range ticks {
		t := first
		if ticks > 1 {
			t = first.Add(time.Duration(float64(last.Sub(first)) * float64(i) / float64(ticks-1)))
		}
		x := xAt(t)
		p.Line(x, y0+chartH, x, y0+chartH+1)
		r.font("", 7.5, textMuted)
		p.SetXY(x-15, y0+chartH+1.5)
		p.CellFormat(30, 4, t.UTC().Format("2006-01-02"), "", 0, "C", false, 0, "")
	}

	// Lines, with a dot on each point so that a single day still shows.
	for i, s := range ss {
		c := seriesColours[i%len(seriesColours)]
		p.SetDrawColor(c.r, c.g, c.b)
		p.SetFillColor(c.r, c.g, c.b)
		p.SetLineWidth(0.6)
		for j, pt := range s.points {
			x, y := xAt(pt.Date), yAt(pt.Score)
			if j > 0 {
				prev := s.points[j-1]
				p.Line(xAt(prev.Date), yAt(prev.Score), x, y)
			}
			p.Circle(x, y, 0.6, "F")
		}
	}

	// Legend, flowing left to right.
	ly := y0 + chartH + 8
	lx := x0
	for i, s := range ss {
		c := seriesColours[i%len(seriesColours)]
		r.font("", 8, textDark)
		last := s.points[len(s.points)-1]
		label := r.fit(r.text(s.name+" "+pct(last.Score)), 60)
		lw := 6 + p.GetStringWidth(label) + 6
		if lx+lw > x0+w && lx > x0 {
			lx, ly = x0, ly+5
		}
		p.SetFillColor(c.r, c.g, c.b)
		p.Rect(lx, ly+1, 4, 2.5, "F")
		p.SetXY(lx+5, ly)
		p.CellFormat(lw-5, 4.5, label, "", 0, "L", false, 0, "")
		lx += lw
	}
	p.SetXY(marginX, ly+8)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func statusCell(s string) cell {
	switch s {
	case StatusPass:
		return cell{text: "Pass", colour: passGreen, bold: true}
	case StatusFail:
		return cell{text: "Fail", colour: failRed, bold: true}
	case StatusNotApplicable:
		return cell{text: "N/A", colour: textMuted, bold: true}
	}
	return cell{text: s, colour: textMuted}
}

// framework draws one framework's controls, starting on a new page.
func (r *renderer) framework(fw Framework) {
	r.pdf.AddPage()
	r.heading(fw.Name + " controls")
	r.paragraph(fmt.Sprintf("Score %s: %d passed, %d failed, %d not applicable.",
		pct(fw.Score), fw.Passed, fw.Failed, fw.NotApplicable), textMuted)
	r.pdf.Ln(2)
	if len(fw.Controls) == 0 {
		r.paragraph("No controls of this framework have been evaluated yet.", textMuted)
		return
	}
	cols := []column{{"Control", 24, "L"}, {"Title", 80, "L"}, {"Status", 16, "L"},
		{"Failing assets", 60, "L"}}
	rows := make([][]cell, 0, len(fw.Controls))
	for _, c := range fw.Controls {
		assets := slices.Clone(c.FailingAssets)
		slices.Sort(assets)
		rows = append(rows, []cell{{text: c.ID, bold: true}, {text: c.Title},
			statusCell(c.Status), {text: strings.Join(slices.Compact(assets), ", ")}})
	}
	r.table(cols, rows)
}

func severityColour(s string) rgb {
	switch strings.ToLower(s) {
	case "critical":
		return rgb{0x9B, 0x11, 0x1E}
	case "high":
		return failRed
	case "medium":
		return warnOrange
	case "low":
		return brandBlue
	}
	return textMuted
}

func (r *renderer) findings() {
	r.pdf.AddPage()
	r.heading("Findings")
	if len(r.d.Findings) == 0 {
		r.paragraph("No findings: no check has failed on any asset of this tenant.", textMuted)
		return
	}
	open, waived := 0, 0
	for _, f := range r.d.Findings {
		if f.Status == FindingWaived {
			waived++
		} else {
			open++
		}
	}
	r.paragraph(fmt.Sprintf("%d open, %d waived.", open, waived), textMuted)
	r.pdf.Ln(2)
	cols := []column{{"Severity", 18, "L"}, {"Finding", 66, "L"},
		{"Asset / resource", 56, "L"}, {"Status", 40, "L"}}
	rows := make([][]cell, 0, len(r.d.Findings))
	for _, f := range r.d.Findings {
		title := f.Title
		if f.Check != "" {
			title += "\n" + f.Check
		}
		where := strings.TrimSpace(f.AssetName + "\n" + f.Resource)
		status := cell{text: "Open", colour: failRed, bold: true}
		if f.Status == FindingWaived {
			status = cell{text: "Waived", colour: textMuted, bold: true}
			if f.Waiver != "" {
				status.text += ": " + f.Waiver
			}
		} else if !f.FirstSeen.IsZero() {
			status.text += "\nsince " + f.FirstSeen.UTC().Format("2006-01-02")
		}
		sev := f.Severity
		if c, n := utf8.DecodeRuneInString(sev); n > 0 {
			sev = string(unicode.ToUpper(c)) + sev[n:]
		}
		rows = append(rows, []cell{{text: sev, colour: severityColour(f.Severity), bold: true},
			{text: title}, {text: where}, status})
	}
	r.table(cols, rows)
}
