"""The answer engine: scope, retrieve, weigh the evidence, answer, verify, cite.

1. The product names in the question scope the search to their manuals.
2. Retrieved passages flagged for prompt injection are dropped; an optional reranker
   reorders close calls.
3. Every unit of every passage is scored (`evidence`); below the calibrated confidence,
   or when the question names a unit of measure no passage states a figure in, the
   engine abstains without calling a model.
4. The `answer` role answers from the passages. The offline model is handed the chosen
   units as call metadata; a hosted model reads the prompt.
5. Each answer sentence is checked against the passage it cites; unsupported ones are
   dropped, and an answer left with none abstains.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from manualqa.answer import text as t
from manualqa.answer.evidence import (
    CONFIDENCE_FEATURES,
    FEATURES,
    Candidate,
    Evidence,
    LinearModel,
    PassageInfo,
    companion,
    gather,
)
from manualqa.answer.products import ProductDirectory
from manualqa.answer.rerank import Reranker
from manualqa.answer.units import AnswerUnit, split_units
from manualqa.answer.verify import SupportPassage, Verifier
from manualqa.config import AnswerSettings
from manualqa.documents import ManualProfile
from manualqa.index.base import Hit, SearchFilters
from manualqa.injection import keep_out_of_prompts
from manualqa.llm import LLMClient
from manualqa.llm.offline_answer import EvidencePart, EvidenceRequest
from manualqa.prompts import ABSTAIN_TEXT, PromptPassage, render_answer_prompt
from manualqa.retrieval import Retriever, check_query

VECTOR_CACHE_SIZE = 50_000  # unit texts whose embeddings are kept in memory
# Chunk ids -> {unit text: vector} as stored at ingest (`sql.catalog.unit_vectors`).
StoredVectors = Callable[[Sequence[str]], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Citation:
    number: int
    manual_key: str
    title: str
    vendor: str
    product: str
    page: int | None
    page_end: int | None  # a passage may run onto the next page
    page_label: str | None
    section: str
    source: str
    chunk_id: str
    score: float
    edition: str  # the manual's version or edition, "" when unknown
    published: str | None  # ISO date of the edition, when known


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    abstained: bool
    citations: list[Citation]
    passages: list[Hit]  # what the answer was drawn from, best first ([n] numbers these)
    model: str
    cached: bool
    cost_usd: float | None
    confidence: float
    scope: tuple[str, ...]  # manuals the question named, () when it named none
    index_version: str | None  # the published index version the passages come from
    dropped: tuple[str, ...] = ()  # answer sentences their passages did not support


class AnswerEngine:
    def __init__(
        self,
        settings: AnswerSettings,
        llm: LLMClient,
        retriever: Retriever,
        reranker: Reranker,
        verifier: Verifier,
        profiles: Sequence[ManualProfile] = (),
        stored_vectors: StoredVectors | None = None,
    ) -> None:
        self.settings = settings
        self.llm = llm
        self.retriever = retriever
        self.reranker = reranker
        self.verifier = verifier
        self.ranker = LinearModel(settings.ranker_weights, FEATURES)
        self.confidence = LinearModel(settings.confidence_weights, CONFIDENCE_FEATURES)
        self.directory = ProductDirectory(profiles)
        self.stored_vectors = stored_vectors
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._vectors_lock = threading.Lock()

    def use_profiles(self, profiles: Sequence[ManualProfile]) -> None:
        """Replace the product directory (after the catalog changed)."""
        self.directory = ProductDirectory(profiles)

    def retrieve(
        self, question: str, filters: SearchFilters | None = None, top_k: int | None = None
    ) -> Retrieved:
        """Scope, search, screen and rerank: the passages an answer may draw from."""
        question = check_query(question)
        filters = filters or SearchFilters()
        scope = self.directory.scope(question)
        if scope:
            keys = (
                scope
                if filters.manual_keys is None
                else tuple(k for k in filters.manual_keys if k in scope)
            )
            filters = dataclasses.replace(filters, manual_keys=keys)
        found = self.retriever.search(question, top_k or self.settings.top_k, filters)
        hits = self.reranker.rerank(question, keep_out_of_prompts(found))
        return Retrieved(question, scope, hits, found.version)

    def weigh(self, retrieved: Retrieved) -> Weighed:
        """Every unit of the passages scored, and the confidence in the best."""
        units = [
            u
            for i, h in enumerate(retrieved.hits)
            for u in split_units(h.text, i)
            if not t.repeats(u.text, _context(h))
        ]
        vectors = self.unit_vectors([u.text for u in units], [h.chunk_id for h in retrieved.hits])
        return self.reweigh(Weighed(retrieved, units, vectors, Evidence([], 0.0, {})))

    def reweigh(self, weighed: Weighed, ranker: LinearModel | None = None) -> Weighed:
        """The same units scored again (by another ranker, when calibrating)."""
        retrieved = weighed.retrieved
        question_vector = self.llm.embed([retrieved.question], use_cache=True)[0]
        evidence = gather(
            retrieved.question,
            weighed.units,
            weighed.vectors,
            question_vector,
            passage_infos(retrieved.hits),
            ranker or self.ranker,
            self.confidence,
        )
        return Weighed(retrieved, weighed.units, weighed.vectors, evidence)

    def answer(
        self, question: str, filters: SearchFilters | None = None, top_k: int | None = None
    ) -> Answer:
        """Answer `question` from the manuals with a citation on every sentence, or abstain."""
        weighed = self.weigh(self.retrieve(question, filters, top_k))
        evidence = weighed.evidence
        if evidence.cannot_answer or evidence.confidence < self.settings.min_confidence:
            return self._abstain(weighed)
        hits = weighed.retrieved.hits
        request = EvidenceRequest(weighed.retrieved.question, tuple(self._parts(weighed)))
        prompt = render_answer_prompt(
            request.question, [_prompt_passage(i + 1, h) for i, h in enumerate(hits)]
        )
        completion = self.llm.complete("answer", prompt, offline_input=request.to_metadata())
        text = completion.text.strip()
        if not text or text == ABSTAIN_TEXT:
            return self._abstain(weighed, completion.model, completion.cached, completion.cost_usd)
        verdict = self.verifier.verify(text, weighed.support_passages())
        if not verdict.cited:
            return dataclasses.replace(
                self._abstain(weighed, completion.model, completion.cached, completion.cost_usd),
                dropped=verdict.dropped,
            )
        return Answer(
            question=weighed.retrieved.question,
            text=verdict.text,
            abstained=False,
            citations=[self._citation(n, hits[n - 1]) for n in verdict.cited],
            passages=hits,
            model=completion.model,
            cached=completion.cached,
            cost_usd=completion.cost_usd,
            confidence=weighed.evidence.confidence,
            scope=weighed.retrieved.scope,
            index_version=weighed.retrieved.index_version,
            dropped=verdict.dropped,
        )

    def unit_vectors(self, texts: Sequence[str], chunk_ids: Sequence[str] = ()) -> np.ndarray:
        """Embeddings of unit texts: from a bounded in-memory cache, else those stored at
        ingest for `chunk_ids`, else computed now. Safe to call from several threads."""
        with self._vectors_lock:
            return self._unit_vectors(texts, chunk_ids)

    def _unit_vectors(self, texts: Sequence[str], chunk_ids: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing and chunk_ids and self.stored_vectors is not None:
            stored = self.stored_vectors(chunk_ids)
            for text in missing:
                if text in stored:
                    self._vectors[text] = stored[text]
            missing = [t for t in missing if t not in self._vectors]
        if missing:
            for text, vector in zip(missing, self.llm.embed(missing), strict=True):
                self._vectors[text] = vector
            while len(self._vectors) > VECTOR_CACHE_SIZE:
                self._vectors.popitem(last=False)
        for text in texts:
            self._vectors.move_to_end(text)
        dimension = self.llm.embedding_settings.dimension
        if not texts:
            return np.zeros((0, dimension), dtype=np.float32)
        return np.vstack([self._vectors[t] for t in texts])

    def _parts(self, weighed: Weighed) -> list[EvidencePart]:
        """The best unit; with no single product named, the best of each other product
        that comes close, each labelled with its product. Each comes with its companion
        (`evidence.companion`), the two in reading order."""
        hits = weighed.retrieved.hits
        candidates = weighed.evidence.candidates
        best = candidates[0]
        product = self._product_of(hits[best.unit.passage])
        chosen: dict[str, Candidate] = {product: best}
        for candidate in candidates[1:]:
            if best.score - candidate.score > self.settings.multi_product_margin:
                break
            other = self._product_of(hits[candidate.unit.passage])
            chosen.setdefault(other, candidate)
        label = len(chosen) > 1
        infos = passage_infos(hits)
        parts = []
        for c in chosen.values():
            beside = companion(
                weighed.retrieved.question, candidates, c, infos, self.settings.companion_margin
            )
            quoted = sorted([c] if beside is None else [c, beside], key=_reading_order)
            for i, q in enumerate(quoted):
                key = hits[q.unit.passage].manual_key
                # the product's name opens its first part only
                name = self.directory.display_name(key) if label and i == 0 else None
                parts.append(EvidencePart(q.unit.passage + 1, q.unit.shown, name))
        return parts

    def _product_of(self, hit: Hit) -> str:
        return f"{hit.vendor}\x1f{hit.product}"

    def _citation(self, number: int, hit: Hit) -> Citation:
        profile = self.directory.profiles.get(hit.manual_key)
        return Citation(
            number=number,
            manual_key=hit.manual_key,
            title=hit.title,
            vendor=hit.vendor,
            product=hit.product,
            page=hit.page,
            page_end=hit.page_end,
            page_label=hit.page_label,
            section=hit.section,
            source=hit.source,
            chunk_id=hit.chunk_id,
            score=hit.score,
            edition=profile.edition if profile else "",
            published=profile.published if profile else None,
        )

    def _abstain(
        self,
        weighed: Weighed,
        model: str | None = None,
        cached: bool = False,
        cost_usd: float | None = 0.0,
    ) -> Answer:
        return Answer(
            question=weighed.retrieved.question,
            text=ABSTAIN_TEXT,
            abstained=True,
            citations=[],
            passages=weighed.retrieved.hits,
            model=model or self.llm.role("answer").model,
            cached=cached,
            cost_usd=cost_usd,
            confidence=weighed.evidence.confidence,
            scope=weighed.retrieved.scope,
            index_version=weighed.retrieved.index_version,
        )


@dataclass(frozen=True)
class Retrieved:
    question: str
    scope: tuple[str, ...]
    hits: list[Hit]
    index_version: str | None  # the published index version the hits come from


@dataclass(frozen=True)
class Weighed:
    retrieved: Retrieved
    units: list[AnswerUnit]
    vectors: np.ndarray
    evidence: Evidence

    def support_passage(self, p: int) -> SupportPassage:
        """Passage `p` ([n] = p + 1) as the verifier sees it: its text, context and units."""
        rows = [i for i, u in enumerate(self.units) if u.passage == p]
        hit = self.retrieved.hits[p]
        return SupportPassage(
            text=hit.text,
            context=_context(hit),
            units=tuple(self.units[i].text for i in rows),
            unit_vectors=self.vectors[rows],  # (0, dimension) when it has no units
        )

    def support_passages(self) -> list[SupportPassage]:
        return [self.support_passage(p) for p in range(len(self.retrieved.hits))]


def passage_infos(hits: Sequence[Hit]) -> list[PassageInfo]:
    """What evidence scoring needs to know about each retrieved passage."""
    return [
        PassageInfo(
            h.score,
            f"{h.section} {h.product}",
            h.manual_key,
            None if h.page is None else (h.page, h.page_end or h.page),
            h.section,
            f"{h.vendor} {h.title}",
        )
        for h in hits
    ]


def _reading_order(candidate: Candidate) -> tuple[int, int]:
    return candidate.unit.passage, candidate.unit.ordinal


def _context(hit: Hit) -> str:
    """What a passage's place says about it: section, product, vendor and manual title."""
    return f"{hit.section} {hit.product} {hit.vendor} {hit.title}"


def _prompt_passage(number: int, hit: Hit) -> PromptPassage:
    page = "" if hit.page is None else str(hit.page)
    return PromptPassage(number, hit.manual_key, hit.product, page, hit.section, hit.text)
