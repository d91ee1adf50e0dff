package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/vamp-canary/terraform-provider-vamp/internal/blueprint"
)

// deploymentModel is vamp_deployment's state. Clusters stays a types.Map so that a plan with
// unknown values (e.g. from a data source not read yet) still decodes.
type deploymentModel struct {
	Name         types.String `tfsdk:"name"`
	Gateways     types.Map    `tfsdk:"gateways"`
	Clusters     types.Map    `tfsdk:"clusters"`
	Status       types.String `tfsdk:"status"`
	GatewayNames types.List   `tfsdk:"gateway_names"`
	// Endpoints are stable endpoints with routing (deployment_endpoints.go).
	Endpoints   types.Map  `tfsdk:"endpoints"`
	GatewayName types.Map  `tfsdk:"gateway_name"`
	RouteNames  types.List `tfsdk:"route_names"`
	Instances   types.Map  `tfsdk:"instances"`
	// RolloutStatus is the live progress of the roll-outs (deployment_rollout.go).
	RolloutStatus types.Map `tfsdk:"rollout_status"`
	// ResolvedEnvironment is what dependency references resolve to (deployment_refs.go).
	ResolvedEnvironment types.Map `tfsdk:"resolved_environment"`
	// Convergence is what the last apply saw of the gateway replicas (convergence.go).
	Convergence types.Object   `tfsdk:"convergence"`
	Timeouts    timeouts.Value `tfsdk:"timeouts"`
}

// The element models of clusters. Containers are Go maps, slices and pointers (nil = null);
// they decode only fully known values, which is when the provider looks inside.
type clusterModel struct {
	Services []serviceModel                 `tfsdk:"services"`
	Gateways map[string]clusterGatewayModel `tfsdk:"gateways"`
}

type serviceModel struct {
	Breed        *breedModel        `tfsdk:"breed"`
	Scale        *scaleModel        `tfsdk:"scale"`
	HealthChecks []healthCheckModel `tfsdk:"health_checks"`
	Marathon     types.String       `tfsdk:"marathon"`
	SLA          *slaModel          `tfsdk:"sla"`
}

type breedModel struct {
	Name                 types.String      `tfsdk:"name"`
	Deployable           types.String      `tfsdk:"deployable"`
	Ports                map[string]string `tfsdk:"ports"`
	EnvironmentVariables map[string]string `tfsdk:"environment_variables"`
}

type scaleModel struct {
	CPU       types.Float64 `tfsdk:"cpu"`
	Memory    types.Int64   `tfsdk:"memory"`
	Instances types.Int64   `tfsdk:"instances"`
}

type healthCheckModel struct {
	Port         types.String `tfsdk:"port"`
	Path         types.String `tfsdk:"path"`
	Protocol     types.String `tfsdk:"protocol"`
	InitialDelay types.String `tfsdk:"initial_delay"`
	Interval     types.String `tfsdk:"interval"`
	Timeout      types.String `tfsdk:"timeout"`
	Failures     types.Int64  `tfsdk:"failures"`
}

type clusterGatewayModel struct {
	Sticky  types.String          `tfsdk:"sticky"`
	Routes  map[string]routeModel `tfsdk:"routes"`
	Rollout *rolloutModel         `tfsdk:"rollout"`
	// Split is computed (deployplan.Split); nil (null) in data "vamp_blueprint" and in
	// configuration.
	Split []string `tfsdk:"split"`
}

type routeModel struct {
	Weight            types.Int64  `tfsdk:"weight"`
	Condition         types.String `tfsdk:"condition"`
	ConditionStrength types.Int64  `tfsdk:"condition_strength"`
}

// Attributes described as "Required." are Optional in the schema: the framework reports a
// Required attribute inside a collection element as missing while the element is unknown (e.g.
// `services = [data.vamp_blueprint.sava.clusters["c"].services[0]]` during validation), so
// blueprint.Validate checks them, at plan, with the attribute path.
//
// Enums and ranges are checked by schema validators; every other rule is blueprint.Validate's
// (ValidateConfig, ModifyPlan), which skips what the schema validators report (schemaChecked),
// so that each fault gets one message.
//
// The attributes below are what vamp_deployment takes and data "vamp_blueprint" gives: one
// definition, so that `clusters = data.vamp_blueprint.sava.clusters` always fits.
func deploymentGatewaysAttribute() schema.MapAttribute {
	return schema.MapAttribute{
		MarkdownDescription: "Blueprint gateways: a port mapped to the cluster port it exposes, e.g. `{ \"9050\" = \"sava_cluster/webport\" }`. " +
			"Each becomes the gateway `<name>/<port>` listening on that port.",
		Optional:    true,
		ElementType: types.StringType,
	}
}

func deploymentClustersAttribute() schema.MapNestedAttribute {
	return schema.MapNestedAttribute{
		MarkdownDescription: "The clusters, keyed by cluster name: the variants of one service and the routing between them.",
		Required:            true,
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"services": schema.ListNestedAttribute{
				MarkdownDescription: "The service variants, in route order. Required.",
				Optional:            true,
				NestedObject:        schema.NestedAttributeObject{Attributes: serviceAttributes()},
			},
			"gateways": schema.MapNestedAttribute{
				MarkdownDescription: "The cluster's internal gateways, keyed by breed port name (gateway `<name>/<cluster>/<port>`). " +
					"Not stated: a new cluster splits evenly; a running one keeps its routing and a new variant gets weight 0 (Vamp's merge rule).",
				Optional: true,
				Computed: true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"sticky": schema.StringAttribute{
						MarkdownDescription: "Sticky sessions: `route` or `instance`. Conditions are decided first; a cookie for a route with weight 0 is ignored.",
						Optional:            true,
						Validators:          []validator.String{stringvalidator.OneOf(blueprint.StickyRoute, blueprint.StickyInstance)},
					},
					"routes": schema.MapNestedAttribute{
						MarkdownDescription: "The routes, keyed by service (breed) name. A service left out gets weight 0.",
						Optional:            true,
						Computed:            true,
						NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
							"weight":             routeWeightAttribute(int64validator.Between(0, 100)),
							"condition":          routeConditionAttribute(),
							"condition_strength": routeStrengthAttribute(int64validator.Between(0, 100)),
						}},
					},
					"rollout": rolloutAttribute(),
					"split": schema.ListAttribute{
						MarkdownDescription: "Computed, known at plan time: where the gateway's requests go, one line per condition " +
							"(in route order, for the requests that match it) and one for the rest, e.g. " +
							"`[\"user-agent == Firefox -> sava:1.0.0 100%\", \"other -> sava:1.1.0 100%\"]`, or " +
							"`[\"all -> sava:1.0.0 50%, sava:1.1.0 50%\"]` without conditions. Routes with no share are left out; " +
							"`no route (503)` is traffic no route takes. The plan's diff of this attribute is the traffic a release moves. " +
							"Not set in configuration (data \"vamp_blueprint\" leaves it null).",
						Computed:    true,
						ElementType: types.StringType,
					},
				}},
			},
		}},
	}
}

func serviceAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"breed": schema.SingleNestedAttribute{
			MarkdownDescription: "What runs: the breed. Required.",
			Optional:            true,
			Attributes: map[string]schema.Attribute{
				"name": schema.StringAttribute{
					MarkdownDescription: "The breed's name, unique in the cluster, e.g. `sava:1.0.0`. Required.",
					Optional:            true,
				},
				"deployable": schema.StringAttribute{
					MarkdownDescription: "`cmd:<command>` runs a local process (local dev runtime); anything else is a Docker image (Marathon runtime). Required.",
					Optional:            true,
				},
				"ports": schema.MapAttribute{
					MarkdownDescription: "Named ports, `\"8080/http\"` or `\"8080/tcp\"`. Each port gets a cluster gateway.",
					Optional:            true,
					ElementType:         types.StringType,
				},
				"environment_variables": schema.MapAttribute{
					MarkdownDescription: "Environment variables of every instance.",
					Optional:            true,
					ElementType:         types.StringType,
				},
			},
		},
		"scale": schema.SingleNestedAttribute{
			MarkdownDescription: "Resources and instance count. Defaults: 0.2 CPU, 256 MB, 1 instance.",
			Optional:            true,
			Computed:            true,
			Attributes: map[string]schema.Attribute{
				"cpu": schema.Float64Attribute{
					MarkdownDescription: "CPU shares (cores), default 0.2.",
					Optional:            true, Computed: true,
					Validators: []validator.Float64{float64validator.AtLeast(0.001)},
				},
				"memory": schema.Int64Attribute{
					MarkdownDescription: "Memory in MB, default 256.",
					Optional:            true, Computed: true,
					Validators: []validator.Int64{int64validator.AtLeast(1)},
				},
				"instances": schema.Int64Attribute{
					MarkdownDescription: "Number of instances, default 1.",
					Optional:            true, Computed: true,
					Validators: []validator.Int64{int64validator.AtLeast(1)},
				},
			},
		},
		"health_checks": schema.ListNestedAttribute{
			MarkdownDescription: "Health checks; an instance gets traffic only while healthy.",
			Optional:            true,
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"port": schema.StringAttribute{
					MarkdownDescription: "The breed port name to check, e.g. `webport`. Required.",
					Optional:            true,
				},
				"path":          computedString("The HTTP path, default `/`."),
				"protocol":      computedString("`HTTP` (default), `HTTPS` or `TCP`.", stringvalidator.OneOfCaseInsensitive("HTTP", "HTTPS", "TCP")),
				"initial_delay": computedString("Grace period after start, default `10s`."),
				"interval":      computedString("Time between checks, default `10s`."),
				"timeout":       computedString("Time a check may take, default `5s`."),
				"failures": schema.Int64Attribute{
					MarkdownDescription: "Failures in a row that make an instance unhealthy, default 3.",
					Optional:            true, Computed: true,
					Validators: []validator.Int64{int64validator.AtLeast(0)},
				},
			}},
		},
		"sla": slaAttribute(),
		"marathon": schema.StringAttribute{
			MarkdownDescription: "A JSON object deep-merged into the service's Marathon app definition (Marathon runtime only; the local dev runtime ignores it and an import from it leaves it unset).",
			Optional:            true,
		},
	}
}

func computedString(description string, validators ...validator.String) schema.StringAttribute {
	return schema.StringAttribute{MarkdownDescription: description, Optional: true, Computed: true, Validators: validators}
}

func deploymentSchema(ctx context.Context) schema.Schema {
	return schema.Schema{
		MarkdownDescription: "A Vamp deployment: clusters of service variants, each cluster's routing (weights, conditions, " +
			"condition strength, sticky sessions) and the blueprint gateways that expose them. " +
			"Changing routing updates the gateways in place without touching running services; adding a variant deploys only that variant.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{
				MarkdownDescription: "The deployment's name, e.g. `sava`; prefix of its gateway and route names. Changing it replaces the deployment.",
				Required:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"gateways":     deploymentGatewaysAttribute(),
			"endpoints":    endpointsAttribute(),
			"clusters":     deploymentClustersAttribute(),
			"gateway_name": gatewayNameAttribute(),
			"status": schema.StringAttribute{
				MarkdownDescription: "`deployed` when every service is running and healthy and every gateway is in place, else `degraded`.",
				Computed:            true,
			},
			"gateway_names": schema.ListAttribute{
				MarkdownDescription: "The gateways this deployment made, e.g. `sava/9050`, `sava/sava_cluster/webport`: blueprint gateways and endpoints by port, then cluster gateways by name. " +
					"A position in this list moves when clusters or ports change: reference a gateway through `gateway_name` instead.",
				Computed:    true,
				ElementType: types.StringType,
			},
			"route_names": schema.ListAttribute{
				MarkdownDescription: "The routes to the service variants, e.g. `sava/sava_cluster/sava:1.0.0/webport`.",
				Computed:            true,
				ElementType:         types.StringType,
			},
			"instances": schema.MapAttribute{
				MarkdownDescription: "The running instances by `cluster/service`, as `host:port` (every port, by port name).",
				Computed:            true,
				ElementType:         types.ListType{ElemType: types.StringType},
			},
			"rollout_status": rolloutStatusAttribute(),
			"convergence":    convergenceAttribute(),
			"resolved_environment": schema.MapAttribute{
				MarkdownDescription: "The environment variables that hold dependency references (`$backend.host`, `$backend.ports.webport`, " +
					"or `$${backend.host}` in HCL), by `cluster/service`, as the runtime starts the service: the host is the gateway's " +
					"(the provider's `gateway.host`), the port the one the referenced cluster's gateway listens on. Known at plan " +
					"when that gateway listens already; a cluster gateway that a reference needs gets a port of 40000-44999 in the apply.",
				Computed:    true,
				ElementType: types.MapType{ElemType: types.StringType},
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

// clustersType is the value type of `clusters`, shared with data "vamp_blueprint".
// It is what MapNestedAttribute.GetType returns without a CustomType.
func clustersType() types.MapType {
	return types.MapType{ElemType: deploymentClustersAttribute().NestedObject.Type()}
}

// schemaChecked are the attributes whose enum or range the schema validators check.
var schemaChecked = map[string]bool{
	"weight": true, "condition_strength": true, "sticky": true,
	"cpu": true, "memory": true, "instances": true, "protocol": true, "failures": true,
}

var instancesType = types.MapType{ElemType: types.ListType{ElemType: types.StringType}}
