package web_test

import (
	"context"
	"io"

	"github.com/tenantra/tenantra/appliance/web"
	"github.com/tenantra/tenantra/store"
)

var _ web.Checks = (*memService)(nil)

func (identityFake) ListModules(context.Context, store.ModuleFilter, store.Page) (
	[]web.ModuleBody, int, error) {
	return nil, 0, errNotInFake
}
func (identityFake) CheckModules(context.Context) (web.CatalogDrift, error) {
	return web.CatalogDrift{}, errNotInFake
}
func (identityFake) SetModuleState(context.Context, string, string, web.ModuleStateRequest) (
	web.ModuleBody, error) {
	return web.ModuleBody{}, errNotInFake
}
func (identityFake) TenantModules(context.Context, string) ([]web.TenantModule, error) {
	return nil, errNotInFake
}
func (identityFake) SetTenantModules(context.Context, string, web.TenantModulesRequest) (
	[]web.TenantModule, error) {
	return nil, errNotInFake
}
func (identityFake) ListFindings(context.Context, string, store.FindingFilter, store.Page) (
	[]store.Finding, int, error) {
	return nil, 0, errNotInFake
}
func (identityFake) GetFinding(context.Context, string, string) (store.Finding, error) {
	return store.Finding{}, errNotInFake
}
func (identityFake) WaiveFinding(context.Context, string, string, web.WaiverRequest) (
	store.Finding, error) {
	return store.Finding{}, errNotInFake
}
func (identityFake) ComplianceSummary(context.Context, string) (web.ComplianceSummary, error) {
	return web.ComplianceSummary{}, errNotInFake
}
func (identityFake) ComplianceFramework(context.Context, string, string) (
	web.ComplianceFramework, error) {
	return web.ComplianceFramework{}, errNotInFake
}
func (identityFake) ComplianceTrend(context.Context, string, int) (
	[]store.ComplianceSnapshot, error) {
	return nil, errNotInFake
}
func (identityFake) ComplianceReport(context.Context, string, string, io.Writer) error {
	return errNotInFake
}
func (identityFake) Overview(context.Context) ([]web.OverviewItem, error) {
	return nil, errNotInFake
}

func (identityFake) TLSStatus(context.Context) (web.TLSStatus, error) {
	return web.TLSStatus{}, errNotInFake
}
