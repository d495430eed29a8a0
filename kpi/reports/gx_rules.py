"""A Great Expectations type for rules recorded in the warehouse, so Data Docs can render them.

Ingestion validates with an ephemeral context and keeps the outcome as rows (staged.rejections);
its rule names are not GX expectation types, and Data Docs refuses to render a result whose type
is not registered. Importing this module registers one type that renders such a rule in Chinese.
Imported only where Data Docs are built: `import great_expectations` costs seconds.
"""

from __future__ import annotations

from typing import ClassVar

from great_expectations.expectations.expectation import BatchExpectation
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer

SEVERITY_ZH = {"critical": "拒收", "warning": "提示", "info": "通过"}


class ExpectSubmissionToPassRule(BatchExpectation):
    """One ingestion rule applied to a submission (recorded outcome; never run from here)."""

    rule: str
    reason: str = ""
    column_name: str = ""
    severity: str = "critical"
    where: str = ""

    domain_keys: ClassVar[tuple[str, ...]] = ("batch_id",)
    success_keys: ClassVar[tuple[str, ...]] = ("rule",)
    args_keys: ClassVar[tuple[str, ...]] = ("rule",)

    def _validate(self, metrics, runtime_configuration=None, execution_engine=None):
        raise NotImplementedError("a recorded outcome: ingestion is where rules run")

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration=None, result=None, runtime_configuration=None):
        config = configuration or (result.expectation_config if result is not None else None)
        kw = dict(config.kwargs) if config is not None else {}
        column = kw.get("column_name") or ""
        return [
            RenderedStringTemplateContent(
                content_block_type="string_template",
                string_template={
                    "template": "【$severity】$rule$column：$reason $where",
                    "params": {
                        "severity": SEVERITY_ZH.get(kw.get("severity", ""), kw.get("severity", "")),
                        "rule": kw.get("rule", ""),
                        "column": f"（列：{column}）" if column else "",
                        "reason": kw.get("reason", ""),
                        "where": kw.get("where", ""),
                    },
                },
            )
        ]
