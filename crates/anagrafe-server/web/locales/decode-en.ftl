# English words for the entries of ANPR's decode tables that the pages show. The register keeps
# and exchanges the official code; Italian pages show ANPR's official Italian description, English
# pages these words (translations of the official descriptions, for reading only).

## Tab. 01: civil status
decode-01-1 = Single
decode-01-2 = Married
decode-01-3 = Widowed
decode-01-4 = Divorced
decode-01-9 = Not classifiable / unknown
decode-01-6 = In a civil union
decode-01-7 = Free status after the death of the civil partner
decode-01-8 = Free status after the dissolution of the civil union

## Tab. 05: relation to the head of the family
decode-05-26 = Guardian
decode-05-1 = Head of the family record
decode-05-2 = Husband / Wife
decode-05-3 = Son / Daughter
decode-05-4 = Grandchild (descendant)
decode-05-5 = Great-grandchild (descendant)
decode-05-6 = Father / Mother
decode-05-7 = Grandfather / Grandmother
decode-05-8 = Great-grandfather / Great-grandmother
decode-05-9 = Brother / Sister
decode-05-10 = Nephew / Niece
decode-05-11 = Uncle / Aunt
decode-05-12 = Cousin
decode-05-13 = Other relative
decode-05-16 = Son-in-law / Daughter-in-law
decode-05-17 = Father-in-law / Mother-in-law
decode-05-18 = Brother-in-law / Sister-in-law
decode-05-20 = Nephew / Niece (by marriage)
decode-05-21 = Uncle / Aunt (by marriage)
decode-05-22 = Other relative by marriage
decode-05-23 = Cohabitant (by adoption or affection)
decode-05-24 = Person in charge of a non-affective cohabitation
decode-05-25 = Member of a non-affective cohabitation
decode-05-99 = Not defined / not given
decode-05-14 = Stepson / Stepdaughter
decode-05-15 = Stepfather / Stepmother
decode-05-19 = Stepbrother / Stepsister
decode-05-80 = Adopted
decode-05-81 = Grandchild
decode-05-28 = Civil partner

## Tab. 06: bond within a cohabitation
decode-06-1 = Person in charge of the cohabitation
decode-06-2 = Member of the cohabitation
decode-06-3 = Other
decode-06-9 = Unknown

## Tab. 07: reason of registration (residence in Italy)
decode-07-1 = Birth
decode-07-2 = Existence (recognised by a court)
decode-07-3 = Immigration (from a comune not yet on the register)
decode-07-4 = Immigration from abroad
decode-07-5 = Reappearance (after being untraceable)
decode-07-6 = Repatriation (from AIRE)
decode-07-7 = Post-census corrections
decode-07-8 = Change of domicile of a person of no fixed abode
decode-07-9 = Other reasons (described by the comune)
decode-07-10 = Restoration of the previous position

## Tab. 08: residence permit
decode-08-1 = Permit
decode-08-2 = Residence card / EU long-term residence permit
decode-08-3 = Permanent certificate
decode-08-4 = Certificate of regular stay
decode-08-5 = Receipt
decode-08-6 = Renewal in progress
decode-08-9 = Not known / not given
decode-08-8 = Other residence title
decode-08-7 = No permit

## Tab. 15: reason of cancellation
decode-15-1 = Ascertained death
decode-15-2 = Presumed death declared by a court
decode-15-3 = Move to a comune not yet on the register
decode-15-4 = Change of domicile (no fixed abode)
decode-15-5 = A foreign citizen's move abroad
decode-15-6 = Untraceable
decode-15-7 = Habitual abode or residence permit not renewed
decode-15-8 = Move abroad (registration in AIRE)
decode-15-9 = Post-census corrections
decode-15-10 = Duplicate registration
decode-15-11 = Loss of Italian citizenship
decode-15-12 = Restoration of the previous position
decode-15-13 = Other

## Tab. 19: reason of registration in AIRE
decode-19-C01 = Emigration and/or residence abroad
decode-19-C02 = Birth (civil status), child of a person registered in AIRE
decode-19-C03 = Transfer from the AIRE of another comune
decode-19-C04 = Re-registration after being untraceable, resident abroad
decode-19-C05 = Acquisition of Italian citizenship, resident abroad
decode-19-C06 = Emigration
decode-19-C07 = Law no. 15 of 16/01/1992, art. 11
decode-19-C09 = Other

## Tab. 27: kind of cohabitation
decode-27-1 = Religious
decode-27-2 = Care
decode-27-3 = Assistance
decode-27-4 = Military
decode-27-5 = Penal
decode-27-6 = Other

## Tab. 28: reason of cancellation from AIRE
decode-28-1 = Ascertained death
decode-28-2 = Presumed death declared by a court
decode-28-3 = Registration in the resident register of a comune not yet on the register, after a transfer from abroad
decode-28-4 = Registration in the resident register of a comune not yet on the register, immigration from abroad (DPR 136/1958, art. 14)
decode-28-5 = Presumed untraceable
decode-28-6 = Loss of citizenship
decode-28-7 = Transfer to the AIRE of another comune not yet on the register
decode-28-8 = Other
decode-28-10 = Duplicate registration

## Tab. 36: kind of change of a person's data
decode-36-1 = Personal data / codice fiscale
decode-36-2 = Citizenship
decode-36-3 = Identity card
decode-36-4 = Residence permit
decode-36-5 = Lists
decode-36-6 = Census
decode-36-7 = Other data
decode-36-8 = Vehicles
decode-36-9 = Digital domicile
decode-36-10 = Paternity
decode-36-11 = Maternity
decode-36-12 = Marriage
decode-36-13 = Widowhood
decode-36-14 = Annulment of marriage
decode-36-15 = Birth act
decode-36-16 = De facto cohabitation
decode-36-17 = End of cohabitation
decode-36-18 = Civil union
decode-36-19 = Dissolution of the union
decode-36-20 = Completion
decode-36-21 = Additional AIRE data
decode-36-22 = Death data

## Tab. 46: kind of change of a household
decode-46-1 = Head, guardian, person in charge
decode-46-2 = Composition of the record
decode-46-3 = General data of the family or cohabitation
decode-46-4 = Residence of the record
decode-46-5 = Residence of the record, with driving licence and vehicles
decode-46-6 = Restoration of the residence before the comune joined the register
decode-46-7 = Revision of street names and house numbers
decode-46-8 = Correction of the address after a check
