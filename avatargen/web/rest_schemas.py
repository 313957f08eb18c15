"""The REST API's JSON shapes, for its OpenAPI document: the records the named endpoints return, described.

Each model allows fields it does not name, so a field a record gains later reaches clients before it is described.
"""

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class Generation(Shape):
    """One avatar request and what became of it (camelCase, as the seed names its fields)."""

    id: str
    userId: int
    kind: str = Field(description="image (video and swap to come)")
    poseTemplateId: str
    inputImageUrl: str = Field(description="the stored photo's key (not a public address)")
    outputImageUrl: str | None = Field(description="the output's key once completed; fetch it from …/download")
    quality: str = Field(description="sd | hd")
    priority: bool
    style: str
    seed: int
    width: int
    height: int
    status: str = Field(description="pending → processing → completed | failed")
    progress: float = Field(description="share of the work done, 0 to 1")
    errorMessage: str | None
    creditUsed: int
    createdAt: str
    startedAt: str | None
    completedAt: str | None


class Job(Generation):
    queuePosition: int | None = Field(description="1 = next to run; null while running")
    etaSeconds: float | None = Field(description="expected seconds until done, from recent run times; null: unknown")


class Meta(BaseModel):
    total: int
    limit: int
    offset: int
    hasMore: bool


class Message(Shape):
    message: str


class Error(BaseModel):
    """Every refusal: a message meant for a person, naming the parameter when one was wrong."""

    message: str


class Started(Shape):
    message: str = Field(examples=["Avatar generation started"])
    data: Generation


class StartedBatch(Shape):
    message: str = Field(examples=["Avatar generations started"])
    data: list[Generation]


class GenerationPage(Shape):
    data: list[Generation]
    meta: Meta


class OneGeneration(Shape):
    data: Generation


class Jobs(Shape):
    data: list[Job]


class Stats(Shape):
    totalGenerations: int
    completedGenerations: int
    failedGenerations: int
    averageProcessingTime: float | None = Field(description="seconds, over completed generations")
    totalCreditsUsed: int = Field(description="credits charged less refunds")


class StatsAnswer(Shape):
    data: Stats


class Entry(Shape):
    delta: int
    reason: str = Field(description="grant | daily | generation | refund | admin")
    generationId: str | None
    createdAt: str


class Statement(Shape):
    balance: int
    transactions: list[Entry] = Field(description="the newest 50 ledger entries, newest first")


class Credits(Shape):
    data: Statement


class Price(Shape):
    quality: str
    priority: bool
    credits: int


class PriceAnswer(Shape):
    data: Price


class Style(Shape):
    id: str
    label: str


class Styles(Shape):
    data: list[Style]


class Pose(Shape):
    id: str
    name: str
    basePose: str
    category: str
    gender: str
    view: str
    framing: str
    tags: list[str]
    private: bool = Field(description="one of your own poses")


class PosesMeta(Meta):
    suggestions: list[str] = Field(description="rewordings of a search that found nothing (\"did you mean\")")


class Poses(Shape):
    data: list[Pose]
    meta: PosesMeta
    facets: dict[str, list[str]] = Field(description="the values each filter accepts")


class Breakdown(Shape):
    data: dict[str, list[dict]] = Field(description="generations and credits per day, style and quality")


class Key(Shape):
    id: int
    name: str
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    createdAt: str
    lastUsedAt: str | None = Field(description="to the minute")
    revokedAt: str | None


class Keys(Shape):
    data: list[Key]
