// Package scanner owns the module engine: the catalog of versioned modules, parameter
// schemas, runners with execution profiles, CEL checks, result envelopes, and compliance
// mapping and scoring (ARCHITECTURE §6). The module engine issue builds it.
package scanner
