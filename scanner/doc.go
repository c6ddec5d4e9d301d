// Package scanner owns the module engine: the catalog of versioned modules, parameter
// schemas, CEL checks, result envelopes, and compliance mapping and scoring
// (ARCHITECTURE §6, ADR 0009). It is pure: no database, no network, no clock of its own.
//
// # Loading
//
// Module files (fixtures/modules/**/<slug>@<version>.yaml), framework catalogs
// (fixtures/frameworks/<id>.yaml) and the end-of-life table (fixtures/eol/os.yaml) are read
// from any fs.FS:
//
//	fws, err := scanner.LoadFrameworks(fixtures.Frameworks())
//	eol, err := scanner.LoadEOL(fixtures.EOL())
//	cat, err := scanner.LoadCatalog(fixtures.Modules(), scanner.Config{
//		Frameworks: fws, EOL: eol, Root: "fixtures/modules"})
//
// or all at once with LoadEmbedded. Decoding is strict (an unknown field is an error) and
// every module is validated: file name, slug, semver, kind, state, category, profile,
// platforms, sunset, mappings to existing controls, a parameters JSON Schema that compiles
// and forbids additional properties, CEL expressions that compile with the right output
// type, and at least one passing and one failing test subject per check. Errors come back
// joined, one line each, as "path:line: message"; a bad file never stops the others, so
// the returned catalog always holds every good module. Module.Checksum is the SHA-256 of the
// file bytes. Catalog.Parse vets one file (an upload) against the same rules; Catalog.Add
// adds it; Catalog.RunTests runs a check's own tests.
//
// # Versions and states
//
// Pure functions for the database catalog: ValidSemver and CompareSemver, CheckTransition
// (draft → qa → released → deprecated → retired, and qa → draft), CheckImmutable (a
// released version's checksum never changes), CheckNewVersion (no downgrade: a new version
// is greater than the newest one) and Schedulable (the newest released version and the
// keepN released or not-yet-sunset deprecated versions below it).
//
// # Parameters
//
// ValidateParams validates a module's parameters against its schema after filling in the
// schema's defaults, with messages naming the module and the field.
//
// # Checks and runs
//
// Checks are CEL over the fact model of facts.go (json field names), with `now`, `params`
// and the functions version_lt(a, b), os_eol(os, os_version) and cidr_contains(cidr, ip).
// Expressions compile once per module version. Catalog.Run evaluates the enabled checks
// over every subject of their kind, in parallel, each evaluation under a cost limit
// (Config.CostLimit) and a time budget (RunOptions.EvalTimeout); a check that errors on a
// subject is recorded in Result.Errors and the others go on. The Result envelope (summary,
// findings, benchmarks, artifacts, errors, per-check and per-asset tallies) is deterministic:
// the same facts, in any order, and the same Now give byte-identical JSON.
//
// Speed (issue #6: all checks over 10,000 assets in seconds): the fact model is declared
// to CEL with ext.NativeTypes, but each subject's facts are converted once into CEL values
// read by field index (celvalue.go) instead of by reflection on every access. An
// evaluation skips runtime cost tracking when the checker's static cost estimate, for the
// actual sizes of the strings, lists and maps the expression reads, stays within half the
// cost limit; the others are tracked and fail at the limit as before. Only comprehensions
// whose worst case could approach the time budget run under an interruptible context.
//
// # Scoring
//
// Score turns a Result, the frameworks and the active waivers into per-tenant, per-asset
// and per-framework scores and control statuses (weights and rules in ADR 0009). It only
// needs the Result, so a stored run can be rescored when waivers change.
package scanner
