"""SQLAlchemy 2 ORM against joltdb through psycopg 3 and psycopg2:
declarative models, create_all/drop_all, inserts, updates and deletes
through a Session, a relationship loaded with a join, Core queries.
The `catalog` group reflects tables with inspect(), which reads pg_catalog."""

import datetime
import decimal
import uuid

from sqlalchemy import (
    BigInteger,
    Numeric,
    String,
    create_engine,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
)

from common import expect_eq, run, settings, unique

SUFFIX = uuid.uuid4().hex[:10]


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "sa_author_" + SUFFIX
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    joined: Mapped[datetime.datetime] = mapped_column(default=lambda: datetime.datetime(2024, 1, 2, 3, 4, 5))
    books: Mapped[list["Book"]] = relationship(
        back_populates="author",
        primaryjoin="Author.id == Book.author_id",
        foreign_keys="Book.author_id",
        order_by="Book.id",
    )


class Book(Base):
    __tablename__ = "sa_book_" + SUFFIX
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # A plain column: joltdb has no foreign keys yet, so the relationship's
    # join condition is spelled out instead of coming from a ForeignKey.
    author_id: Mapped[int]
    title: Mapped[str]
    price: Mapped[decimal.Decimal | None] = mapped_column(Numeric(8, 2))
    published: Mapped[datetime.date | None]
    author: Mapped[Author] = relationship(
        back_populates="books",
        primaryjoin="Book.author_id == Author.id",
        foreign_keys="Book.author_id",
    )


def url(driver):
    s = settings()
    return "postgresql+%s://%s:%s@%s:%d/%s" % (
        driver, s["user"], s["password"], s["host"], s["port"], s["dbname"],
    )


def orm_round_trip(driver):
    # use_native_hstore=False: looking up the hstore type on connect reads
    # pg_catalog.pg_type (the `catalog` group connects without it).
    engine = create_engine(url(driver), use_native_hstore=False)
    try:
        # checkfirst=False: checking whether the tables exist reads
        # pg_catalog (the `catalog` group covers that).
        Base.metadata.create_all(engine, checkfirst=False)
        with Session(engine) as session:
            ann = Author(name="ann")
            bob = Author(name="bob")
            ann.books = [
                Book(id=1, title="First", price=decimal.Decimal("9.99"), published=datetime.date(2020, 5, 1)),
                Book(id=2, title="Second", price=None, published=None),
            ]
            bob.books = [Book(id=3, title="Third", price=decimal.Decimal("20.00"))]
            session.add_all([ann, bob])
            session.commit()
            assert ann.id is not None and bob.id is not None, "server-generated keys"

        with Session(engine) as session:
            # A relationship loaded with a join.
            authors = session.scalars(
                select(Author).options(joinedload(Author.books)).order_by(Author.name)
            ).unique().all()
            expect_eq([a.name for a in authors], ["ann", "bob"], "authors")
            expect_eq([b.title for b in authors[0].books], ["First", "Second"], "ann's books")
            expect_eq(authors[0].books[0].price, decimal.Decimal("9.99"), "numeric")
            expect_eq(authors[0].books[1].price, None, "NULL numeric")
            expect_eq(authors[0].joined, datetime.datetime(2024, 1, 2, 3, 4, 5), "timestamp default")
            # An explicit join with an aggregate.
            rows = session.execute(
                select(Author.name, func.count(Book.id), func.sum(Book.price))
                .join(Book, Book.author_id == Author.id)
                .group_by(Author.name)
                .order_by(Author.name)
            ).all()
            expect_eq(
                [tuple(r) for r in rows],
                [("ann", 2, decimal.Decimal("9.99")), ("bob", 1, decimal.Decimal("20.00"))],
                "join + group by",
            )
            # Update and delete through the unit of work.
            book = session.get(Book, 2)
            book.price = decimal.Decimal("5.50")
            session.delete(session.get(Book, 3))
            session.commit()
            expect_eq(
                session.scalars(select(Book.price).order_by(Book.id)).all(),
                [decimal.Decimal("9.99"), decimal.Decimal("5.50")],
                "after update and delete",
            )
            # A unique violation surfaces as IntegrityError and rolls back.
            session.add(Author(name="ann"))
            try:
                session.commit()
                raise AssertionError("duplicate name accepted")
            except IntegrityError as e:
                expect_eq(getattr(e.orig, "sqlstate", None) or getattr(e.orig, "pgcode", None), "23505", "sqlstate")
                session.rollback()
            expect_eq(session.scalar(select(func.count()).select_from(Author)), 2, "authors after rollback")
            expect_eq(session.execute(text("select :a + :b"), {"a": 1, "b": 2}).scalar(), 3, "text()")
    finally:
        Base.metadata.drop_all(engine, checkfirst=False)
        engine.dispose()


def check_orm_psycopg3():
    orm_round_trip("psycopg")


def check_orm_psycopg2():
    orm_round_trip("psycopg2")


def check_reflection():
    engine = create_engine(url("psycopg"))  # looks up hstore in pg_type
    table = unique("sa_reflect")
    try:
        with engine.begin() as conn:
            conn.execute(text("create table %s (id int primary key, name varchar(20) not null, note text)" % table))
        Base.metadata.create_all(engine)  # checkfirst=True reads pg_catalog
        Base.metadata.drop_all(engine)
        insp = inspect(engine)
        assert insp.has_table(table), "has_table"
        cols = {c["name"]: c for c in insp.get_columns(table)}
        expect_eq(sorted(cols), ["id", "name", "note"], "reflected columns")
        expect_eq(cols["name"]["nullable"], False, "NOT NULL reflected")
        expect_eq(insp.get_pk_constraint(table)["constrained_columns"], ["id"], "primary key")
    finally:
        with engine.begin() as conn:
            conn.execute(text("drop table if exists %s" % table))
        engine.dispose()


CHECKS = {
    "orm_psycopg3": check_orm_psycopg3,
    "orm_psycopg2": check_orm_psycopg2,
    "reflection": check_reflection,
}
GROUPS = {
    "default": ["orm_psycopg3", "orm_psycopg2"],
    "catalog": ["reflection"],
}

if __name__ == "__main__":
    run(CHECKS, GROUPS)
