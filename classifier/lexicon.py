"""Names of technologies, grouped by whose stack they belong to.

A skills line ("* .NET Core", "Payments: Stripe", "ITIL v4, VMware") takes the side of the
technology it names (the labelling guideline). The training lines can only name so many
frameworks; these lists let the model learn one weight for "names a product-engineering
technology" and one for "names an internal-IT technology", so that a framework it never saw
in training still counts. Entries are folded tokens (see normalize.folded_tokens) or bigrams
of them; ambiguous words ("go", "swift", "spring") appear only in bigrams, and so do
words that are also Vietnamese syllables once folded ("sắp" is "sap", "sóc" is "soc", "lúa" is
"lua", "Lan" is "lan").
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


DEV = _words(
    """
    python java javascript typescript golang kotlin scala elixir erlang haskell clojure
    c++ c# f# php ruby perl rust dart objective-c solidity cobol fortran
    react reactjs react.js angular angularjs vue vuejs vue.js svelte next.js nextjs nuxt
    node.js nodejs deno nestjs express.js django flask fastapi laravel symfony
    rails springboot hibernate jpa asp.net blazor xamarin maui flutter swiftui jetpack
    html html5 css css3 sass tailwind bootstrap jquery redux webpack vite graphql grpc
    restful openapi swagger microservice microservices monorepo kafka rabbitmq nats
    redis elasticsearch mongodb postgresql postgres mysql mariadb cassandra dynamodb
    sqlite clickhouse snowflake bigquery databricks spark hadoop airflow dbt
    pytorch tensorflow keras scikit-learn sklearn huggingface llm llms langchain rag mlops
    opencv cuda nlp
    docker kubernetes k8s helm terraform ansible argocd jenkins gitlab github circleci
    ci cd devops devsecops sre tdd bdd jest cypress selenium playwright junit pytest
    sdk sdks api apis frontend backend fullstack full-stack ios android unity unreal
    webrtc websocket websockets serverless stripe auth0 firebase supabase
    figma storybook agile scrum kanban jira
    """
) | frozenset(
    {
        "net core", "asp net", "spring boot", "spring framework", "ruby rail", "react native",
        "go lang", "golang", "node js", "vue js", "machine learning", "deep learning",
        "computer vision", "design pattern", "clean code", "code review", "unit test",
        "system design", "distributed system", "event driven", "domain driven",
        "swift ui", "objective c", "c c++",
    }
)  # fmt: skip

IT = _words(
    """
    itil itsm cobit togaf archimate iso27001 cissp cism cisa ccna ccnp ccie mcsa mcse
    comptia pmp prince2
    vmware esxi vsphere vcenter hyper-v citrix veeam nutanix proxmox
    intune sccm mecm jamf o365 m365 sharepoint
    cisco juniper fortinet fortigate sophos meraki aruba mikrotik
    firewall firewalls vpn wan sd-wan vlan wifi dhcp dns ldap
    siem edr xdr dlp
    helpdesk servicenow zendesk glpi
    erp crm hrm hris mes wms odoo netsuite
    backup backups nas raid
    """
) | frozenset(
    {
        "active directory", "office 365", "microsoft 365", "google workspace", "service desk",
        "help desk", "data center", "data centre", "iso <num>", "disaster recovery",
        "sap s4hana", "sap hana", "microsoft dynamics", "dynamics <num>", "oracle erp",
        "oracle ebs",
        "ms office", "window server", "mang lan", "lan wan", "sap erp", "sap b1", "sap fico",
        "sap mm", "sap sd", "he thong sap", "palo alto", "soc analyst", "security operation",
        "exchange server", "microsoft exchange",
    }
)  # fmt: skip

MARKS = {"dev": "<stack:dev>", "it": "<stack:it>"}


def _names(grams: list[str], names: frozenset[str], heads: frozenset[str]) -> bool:
    if not names.isdisjoint(grams):
        return True
    if heads.isdisjoint(grams):
        return False
    return any(a in heads and a + " " + b in names for a, b in zip(grams, grams[1:], strict=False))


def _heads(names: frozenset[str]) -> frozenset[str]:
    return frozenset(n.split()[0] for n in names if " " in n)


_DEV_HEADS, _IT_HEADS = _heads(DEV), _heads(IT)


def stack_marks(grams: list[str]) -> list[str]:
    """Return a mark for each stack the line's tokens name (at most one each), given its folded
    tokens; bigrams are looked up too."""
    out = []
    if _names(grams, DEV, _DEV_HEADS):
        out.append(MARKS["dev"])
    if _names(grams, IT, _IT_HEADS):
        out.append(MARKS["it"])
    return out
