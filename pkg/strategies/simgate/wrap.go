package simgate

import (
	"context"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sync"

	frameworktypes "sigs.k8s.io/descheduler/pkg/framework/types"
)

var (
	sharedMu sync.Mutex
	shared   *Gate
)

// SetShared installs the gate every strategy of the process uses (the
// descheduler command does, from its flags, before plugins are built).
func SetShared(g *Gate) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	shared = g
}

// Shared returns the process's gate; without SetShared, one with the
// default profiles (upstream default-scheduler, snug's shipped profile).
func Shared() (*Gate, error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil {
		profiles, err := LoadProfiles(nil)
		if err != nil {
			return nil, err
		}
		shared = New(Options{Profiles: profiles})
	}
	return shared, nil
}

// Base is what every gated strategy holds: its name, the gate and the
// descheduler's handle.
type Base struct {
	PluginName string
	Gate       *Gate
	Handle     frameworktypes.Handle
}

// Name is the strategy's registered name.
func (b *Base) Name() string { return b.PluginName }

// Begin tells the gate that this strategy starts an extension point.
func (b *Base) Begin(ctx context.Context, point string) *frameworktypes.Status {
	if err := b.Gate.Begin(ctx, b.Handle.PluginInstanceID()+"/"+b.PluginName+"/"+point, b.Handle.SharedInformerFactory()); err != nil {
		return &frameworktypes.Status{Err: err}
	}
	return nil
}

// Build returns the gate and registers its informers with h's factory.
func Build(h frameworktypes.Handle) (*Gate, error) {
	g, err := Shared()
	if err != nil {
		return nil, err
	}
	g.RegisterInformers(h.SharedInformerFactory())
	return g, nil
}

// GatedDeschedule is an upstream deschedule strategy whose evictions go through
// the gate.
type GatedDeschedule struct {
	Base
	Inner frameworktypes.DeschedulePlugin
}

// Deschedule runs the upstream strategy in a gate run.
func (d *GatedDeschedule) Deschedule(ctx context.Context, nodes []*corev1.Node) *frameworktypes.Status {
	if st := d.Begin(ctx, "Deschedule"); st != nil {
		return st
	}
	return d.Inner.Deschedule(ctx, nodes)
}

// GatedBalance is an upstream balance strategy whose evictions go through the
// gate.
type GatedBalance struct {
	Base
	Inner frameworktypes.BalancePlugin
}

// Balance runs the upstream strategy in a gate run.
func (b *GatedBalance) Balance(ctx context.Context, nodes []*corev1.Node) *frameworktypes.Status {
	if st := b.Begin(ctx, "Balance"); st != nil {
		return st
	}
	return b.Inner.Balance(ctx, nodes)
}

// Builder is an upstream strategy's New.
type Builder func(ctx context.Context, args runtime.Object, h frameworktypes.Handle) (frameworktypes.Plugin, error)

// gated builds an upstream strategy on a handle whose evictions go through
// the shared gate with goal.
func gated(ctx context.Context, name string, args runtime.Object, h frameworktypes.Handle, build Builder, goal GoalFor) (Base, frameworktypes.Plugin, error) {
	g, err := Build(h)
	if err != nil {
		return Base{}, nil, err
	}
	inner, err := build(ctx, args, g.Handle(h, name, goal))
	return Base{PluginName: name, Gate: g, Handle: h}, inner, err
}

// NewGatedBalance builds an upstream balance strategy behind the gate.
func NewGatedBalance(ctx context.Context, name string, args runtime.Object, h frameworktypes.Handle, build Builder, goal GoalFor) (GatedBalance, error) {
	base, inner, err := gated(ctx, name, args, h, build, goal)
	if err != nil {
		return GatedBalance{}, err
	}
	return GatedBalance{Base: base, Inner: inner.(frameworktypes.BalancePlugin)}, nil
}

// NewGatedDeschedule builds an upstream deschedule strategy behind the gate.
func NewGatedDeschedule(ctx context.Context, name string, args runtime.Object, h frameworktypes.Handle, build Builder, goal GoalFor) (GatedDeschedule, error) {
	base, inner, err := gated(ctx, name, args, h, build, goal)
	if err != nil {
		return GatedDeschedule{}, err
	}
	return GatedDeschedule{Base: base, Inner: inner.(frameworktypes.DeschedulePlugin)}, nil
}
